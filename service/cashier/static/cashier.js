// The cashier's page: sign in with a cashier token (or, on a paired till, with a PIN), find a
// card (camera, scanner or typed number), post a purchase or a redemption, show the new balance
// and whether phones were told.
"use strict";

(() => {
  const TOKEN_KEY = "passcast.cashierToken";
  // A till paired by the brand's pair link (/cashier#till=tl_...): cashiers sign in here with a PIN.
  const TILL_KEY = "passcast.tillKey";
  // How long a PIN session may sit unused on this till (the brand sets it per till).
  const IDLE_KEY = "passcast.idleSeconds";
  const JSQR_URL = document.currentScript.dataset.jsqr;
  const $ = (id) => document.getElementById(id);

  const state = { token: localStorage.getItem(TOKEN_KEY), card: null, pending: null, camera: null, idle: null };

  // ---- talking to the API ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function api(method, path, body, headers = {}) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json",
                   ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ApiError("No connection to the server. Check the network and try again.", 0);
    }
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) {
      signOut();
      throw new ApiError(`${data.detail || "This cashier token is not valid."} Sign in again.`, 401);
    }
    if (!response.ok) {
      throw new ApiError(data.detail || data.title || `The server answered ${response.status}.`, response.status);
    }
    return { data, replayed: response.headers.get("Idempotent-Replayed") === "true" };
  }

  // ---- messages -------------------------------------------------------------------------

  function say(text, kind = "info") {
    const status = $("status");
    status.textContent = text;
    status.className = `status ${kind}`;
    status.hidden = !text;
  }

  const fail = (error) => say(error.message, "error");

  // ---- the paired till and PIN sign-in --------------------------------------------------

  // The pair link carries the till key in the #fragment (never sent to a server); keep it, drop it from the address bar.
  function pairFromLink() {
    const match = /^#till=(tl_[\w-]+)$/.exec(window.location.hash);
    if (!match) return false;
    localStorage.setItem(TILL_KEY, match[1]);
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return true;
  }

  // The till's own calls: its key, not a cashier's token; a refusal is not a reason to sign anyone out.
  async function tillApi(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: { Authorization: `Bearer ${localStorage.getItem(TILL_KEY)}`, Accept: "application/json",
                   ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ApiError("No connection to the server. Check the network and try again.", 0);
    }
    const data = await response.json().catch(() => ({}));
    if (data.type === "/problems/till-unpaired") {
      localStorage.removeItem(TILL_KEY);
      showSignIn();
    }
    if (data.type === "/problems/pin-locked" && data.locked_until) {  // the till's clock, not UTC
      const until = new Date(data.locked_until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      throw new ApiError(`Too many wrong PINs: PIN sign-in for this cashier is locked until ${until}. `
                         + "Ask your manager, or sign in with your cashier token.", response.status);
    }
    if (!response.ok) {
      throw new ApiError(data.detail || data.title || `The server answered ${response.status}.`, response.status);
    }
    return data;
  }

  async function loadTill() {
    const till = await tillApi("GET", "/api/v1/till");
    localStorage.setItem(IDLE_KEY, String(till.till.idle_seconds));
    $("till-name").textContent = [till.brand.name, till.store && till.store.name, till.till.name]
      .filter(Boolean).join(" · ");
    const select = $("pin-cashier");
    const chosen = select.value;
    select.replaceChildren(...till.cashiers.map(({ id, name }) => new Option(name, id)));
    if (chosen) select.value = chosen;
    if (!till.cashiers.length) say("No cashier has a PIN for this till yet: your manager sets PINs.", "warn");
    // Several cashiers: pick your name first; only one: straight to the PIN.
    if (!$("pin-form").hidden) (till.cashiers.length > 1 && !chosen ? select : $("pin")).focus();
  }

  async function pinSignIn() {
    const pin = $("pin").value;
    $("pin").value = "";  // never left on the screen, right or wrong
    if (!/^\d{4,8}$/.test(pin)) {
      say("A PIN is 4 to 8 digits.", "error");
      $("pin").focus();
      return;
    }
    say("Signing in…");
    try {
      const session = await tillApi("POST", "/api/v1/till/sign-in", { cashier_id: Number($("pin-cashier").value), pin });
      await signIn(session.token);
    } catch (error) {
      if (!$("pin-form").hidden) $("pin").focus();
      throw error;
    }
  }

  // ---- signing in and out ---------------------------------------------------------------

  async function signIn(token) {
    state.token = token;
    const { data: me } = await api("GET", "/api/v1/cashier/me");
    localStorage.setItem(TOKEN_KEY, token);
    $("who").textContent = [me.name, me.store && me.store.name, me.brand.name].filter(Boolean).join(" · ");
    showTill(true);
    say("");
    armIdle();
  }

  // A PIN session on a shared till ends after the till's idle time without a touch, a key (a
  // scanner types keys) or a scan: nobody else's purchases under your name.
  function armIdle() {
    clearTimeout(state.idle);
    const seconds = Number(localStorage.getItem(IDLE_KEY));
    if (!state.token || !state.token.startsWith("ct_s") || !seconds) return;
    state.idle = setTimeout(() => {
      signOut();
      const span = seconds >= 120 ? `${Math.round(seconds / 60)} minutes` : `${seconds} seconds`;
      say(`Signed out after ${span} without use. Sign in again with your PIN.`, "warn");
    }, seconds * 1000);
  }

  function signOut() {
    clearTimeout(state.idle);
    localStorage.removeItem(TOKEN_KEY);
    state.token = null;
    stopCamera();
    clearCard();
    showTill(false);
  }

  function showTill(signedIn) {
    $("signin").hidden = signedIn;
    $("till").hidden = !signedIn;
    $("who").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
    if (signedIn) {
      $("code").focus();
    } else {
      showSignIn();
    }
  }

  // A paired till asks for a PIN (the token form one tap away); any other device for the token.
  function showSignIn(useToken = false) {
    const paired = Boolean(localStorage.getItem(TILL_KEY));
    const pin = paired && !useToken;
    $("pin-form").hidden = !pin;
    $("signin-form").hidden = pin;
    $("use-pin").hidden = !paired;
    if (pin) {
      loadTill().catch(fail);
    } else {
      $("token").focus();
    }
  }

  // ---- finding and showing the card -----------------------------------------------------

  async function findCard(code) {
    armIdle();  // a card scanned by the camera is use too
    say("Looking up the card…");
    const { data: card } = await api("POST", "/api/v1/cashier/scan", { code });
    showCard(card);
    say("");
    $("code").value = "";
    $($("tx-form").elements.kind.value === "stamp" ? "stamps" : "amount").focus();
  }

  const money = (value, card) => `${value} ${card.program.currency}`;

  function balanceText(card) {
    if (card.stamps !== null && card.stamps !== undefined) return `${card.stamps} of ${card.stamps_required} stamps`;
    const points = `${card.balance} points`;
    return card.balance_money ? `${money(card.balance_money, card)} (${points})` : points;
  }

  function showCard(card) {
    state.card = card;
    state.pending = null;
    $("holder").textContent = card.customer.name;
    $("card-meta").textContent = `Card ${card.number} · ${card.program.name}`;
    $("balance").textContent = balanceText(card);
    $("tier").textContent = card.tier || "—";
    $("discount-row").hidden = !card.discount_percent;
    $("discount").textContent = card.discount_percent ? `${card.discount_percent} %` : "";
    $("expiry").textContent = card.points_expire_at
      ? `Points expire on ${new Date(card.points_expire_at).toLocaleDateString([], { dateStyle: "long" })}.` : "";
    $("currency").textContent = card.program.currency;
    // A stamp card takes stamps (and purchases, which earn by its rule), never points by hand.
    const stampCard = card.stamps !== null && card.stamps !== undefined;
    $("stamp-kind").hidden = !stampCard;
    $("redeem-kind").hidden = stampCard;
    if (stampCard) $("tx-form").elements.kind.value = "stamp";
    showKind($("tx-form").elements.kind.value);
    const rewards = card.stamp_rewards || [];
    $("rewards").hidden = rewards.length === 0;
    $("rewards").textContent = rewards.length
      ? `Rewards earned: ${rewards.slice(0, 3).map((reward) => reward.name).join(", ")}${rewards.length > 3 ? "…" : ""}.` : "";
    $("recent").replaceChildren(...card.recent_transactions.map((entry) => recentItem(entry, card)));
    $("confirm").hidden = true;
    $("tx-form").hidden = false;
    $("card").hidden = false;
    $("till").classList.add("has-card");
  }

  function recentItem(entry, card) {
    const item = document.createElement("li");
    const what = document.createElement("span");
    const points = document.createElement("span");
    const when = new Date(entry.created_at).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
    what.textContent = `${when} · ${entry.type}${entry.amount ? ` ${money(entry.amount, card)}` : ""}`;
    points.textContent = entry.points > 0 ? `+${entry.points}` : String(entry.points);
    points.className = entry.points < 0 ? "minus" : "plus";
    item.append(what, points);
    return item;
  }

  function clearCard() {
    state.card = null;
    state.pending = null;
    $("card").hidden = true;
    $("till").classList.remove("has-card");
    $("tx-form").reset();
    showKind("purchase");
  }

  // ---- the transaction: enter, confirm, post --------------------------------------------

  function showKind(kind) {
    $("amount-field").hidden = kind !== "purchase";
    $("stamps-field").hidden = kind !== "stamp";
    $("points-field").hidden = kind !== "redeem";
  }

  // The body to post, or an error message in plain words.
  function transactionFromForm() {
    const kind = $("tx-form").elements.kind.value;
    if (kind === "purchase") {
      const amount = $("amount").value.trim().replace(",", ".");
      if (!/^\d+(\.\d{1,2})?$/.test(amount) || Number(amount) <= 0) {
        return { error: "Enter the amount paid, such as 12.50." };
      }
      return { body: { type: "purchase", amount: Number(amount).toFixed(2) },
               text: `Purchase of ${money(Number(amount).toFixed(2), state.card)}` };
    }
    if (kind === "stamp") {
      const stamps = $("stamps").value.trim() || "1";
      if (!/^\d+$/.test(stamps) || Number(stamps) <= 0 || Number(stamps) > 1000) {
        return { error: "Enter a whole number of stamps, such as 1." };
      }
      return { body: { type: "stamp", stamps: Number(stamps) },
               text: `${stamps} ${Number(stamps) === 1 ? "stamp" : "stamps"}` };
    }
    const points = $("points").value.trim();
    if (!/^\d+$/.test(points) || Number(points) <= 0) {
      return { error: "Enter a whole number of points to redeem, such as 100." };
    }
    if (Number(points) > state.card.balance) {
      return { error: `The card has only ${state.card.balance} points.` };
    }
    return { body: { type: "redeem", points: Number(points) }, text: `Redeem ${points} points` };
  }

  function prepare() {
    const { body, text, error } = transactionFromForm();
    if (error) {
      say(error, "error");
      return;
    }
    // One key per intended transaction: retries of this confirmation reuse it, so a purchase
    // whose answer got lost on the network is never recorded twice.
    state.pending = { cardId: state.card.id, body, key: crypto.randomUUID() };
    $("confirm-text").textContent = `${text} for ${state.card.customer.name}?`;
    $("tx-form").hidden = true;
    $("confirm").hidden = false;
    say("");
    $("confirm-yes").focus();
  }

  function change() {
    state.pending = null;
    $("confirm").hidden = true;
    $("tx-form").hidden = false;
  }

  async function confirm() {
    const pending = state.pending;
    if (!pending) return;
    $("confirm-yes").disabled = true;
    say("Saving…");
    try {
      const { data: result, replayed } = await api("POST", `/api/v1/cards/${pending.cardId}/transactions`,
                                                   pending.body, { "Idempotency-Key": pending.key });
      state.pending = null;
      $("tx-form").reset();
      showKind("purchase");
      const earned = (result.rewards_earned || []).map((reward) => reward.name);
      const saved = `${replayed ? "Already saved earlier; nothing was done twice." : "Saved."} `
        + `New balance: ${balanceText({ ...state.card, ...result })}.`
        + (earned.length ? ` Reward earned: ${earned.join(", ")}.` : "");
      say(`${saved} Card updated; notifying phones…`, "ok");
      const { data: card } = await api("POST", "/api/v1/cashier/scan", { code: state.card.number });
      showCard(card);
      await reportPush(pending.cardId, saved);
    } catch (error) {
      const retry = state.pending && (error.status === 0 || error.status >= 500);
      say(retry ? `${error.message} Press Confirm to try again.` : error.message, "error");
      if (!state.pending) change();
    } finally {
      $("confirm-yes").disabled = false;
    }
  }

  // Did the change leave for the phones? Ask a few times while pushes are still queued.
  async function reportPush(cardId, prefix) {
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const { data: push } = await api("GET", `/cashier/cards/${cardId}/push`);
      if (push.devices === 0) {
        say(`${prefix} Card updated; no phone has this card in its wallet yet.`, "ok");
        return;
      }
      if (push.pending === 0 || attempt === 5) {
        say(`${prefix} ${pushText(push)}`, push.failed && !push.sent ? "warn" : "ok");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  function pushText({ sent, pending, failed }) {
    const phones = (n) => (n === 1 ? "1 phone" : `${n} phones`);
    const parts = [];
    if (sent) parts.push(`${phones(sent)} notified`);
    if (pending) parts.push(`${phones(pending)} still being notified`);
    if (failed) parts.push(`${phones(failed)} could not be reached`);
    return `Card updated; ${parts.join(", ")}.`;
  }

  // ---- the camera -----------------------------------------------------------------------

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = JSQR_URL;
      script.onload = () => resolve(window.jsQR);
      script.onerror = () => reject(new Error("The QR reader could not be loaded."));
      document.head.append(script);
    });
  }

  // A function frame -> code (or null): the browser's own detector where it has one, else jsQR.
  async function makeDecoder() {
    if ("BarcodeDetector" in window
        && (await window.BarcodeDetector.getSupportedFormats()).includes("qr_code")) {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async (video) => ((await detector.detect(video))[0] || {}).rawValue || null;
    }
    const jsQR = await loadJsQR();
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async (video) => {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      return (jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" }) || {}).data || null;
    };
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("This browser cannot use the camera here. Use a scanner or type the card number.", "error");
      return;
    }
    stopCamera();
    const camera = { stopped: false };
    state.camera = camera;
    try {
      camera.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      const decode = await makeDecoder();
      const video = $("video");
      video.srcObject = camera.stream;
      await video.play();
      $("camera").hidden = false;
      $("camera-start").hidden = true;
      say("");
      while (!camera.stopped) {
        const code = video.readyState >= 2 ? await decode(video) : null;
        if (code && !camera.stopped) {
          stopCamera();
          await findCard(code).catch(fail);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    } catch (error) {
      stopCamera();
      say(error.name === "NotAllowedError"
        ? "The camera is blocked. Allow it in the browser, or use a scanner or the card number."
        : error instanceof ApiError ? error.message : "The camera could not be started. Use a scanner or type the card number.",
      "error");
    }
  }

  function stopCamera() {
    const camera = state.camera;
    if (!camera) return;
    camera.stopped = true;
    if (camera.stream) camera.stream.getTracks().forEach((track) => track.stop());
    state.camera = null;
    $("video").srcObject = null;
    $("camera").hidden = true;
    $("camera-start").hidden = false;
  }

  // ---- wiring ---------------------------------------------------------------------------

  function onSubmit(id, handler) {
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      Promise.resolve(handler(event)).catch(fail);
    });
  }

  onSubmit("signin-form", () => signIn($("token").value.trim()).then(() => { $("token").value = ""; }));
  onSubmit("pin-form", pinSignIn);
  $("use-token").addEventListener("click", () => { say(""); showSignIn(true); });
  $("use-pin").addEventListener("click", () => { say(""); showSignIn(); });
  onSubmit("scan-form", () => findCard($("code").value));
  onSubmit("tx-form", prepare);
  $("tx-form").addEventListener("change", (event) => {
    if (event.target.name === "kind") showKind(event.target.value);
  });
  $("confirm-yes").addEventListener("click", () => confirm());
  $("confirm-no").addEventListener("click", change);
  $("next").addEventListener("click", () => { clearCard(); say(""); $("code").focus(); });
  $("sign-out").addEventListener("click", () => { signOut(); say("Signed out."); });
  for (const kind of ["pointerdown", "keydown"]) {
    document.addEventListener(kind, () => { if (state.token) armIdle(); }, { passive: true });
  }
  $("camera-start").addEventListener("click", () => startCamera());
  $("camera-stop").addEventListener("click", stopCamera);

  const paired = pairFromLink();
  if (state.token) {
    signIn(state.token).catch((error) => { showTill(false); fail(error); });
  } else {
    showTill(false);
    if (paired) say("This till is paired: cashiers sign in here with their PIN.", "ok");
  }
})();
