// The cashier's page: sign in with a cashier token (or, on a paired till, with a PIN), find a
// card (camera, scanner or typed number), post a purchase or a redemption, redeem a reward or
// coupon the customer holds, show the new balance and whether phones were told; undo it while the
// program's undo window lasts. The till's refusals (a limit reached, an undo not allowed) are shown
// in the page's language.
"use strict";

(() => {
  const TOKEN_KEY = "passcast.cashierToken";
  // A till paired by the brand's pair link (/cashier#till=tl_...): cashiers sign in here with a PIN.
  const TILL_KEY = "passcast.tillKey";
  // How long a PIN session may sit unused on this till (the brand sets it per till).
  const IDLE_KEY = "passcast.idleSeconds";
  const JSQR_URL = document.currentScript.dataset.jsqr;
  const $ = (id) => document.getElementById(id);

  // ---- the page's language --------------------------------------------------------------

  // The texts come from the server (service/cashier/words.py) as a JSON block in the page's language.
  const WORDS = JSON.parse(($("cashier-words") || {}).textContent || "{}");
  const LOCALE = document.documentElement.lang || "en";
  const PLURALS = new Intl.PluralRules(LOCALE);
  // t("new_balance", { balance: "120 points" }): the text with its {places} filled in.
  const t = (key, values = {}) => (WORDS[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
  const number = (n) => Number(n).toLocaleString(LOCALE);
  // plural("points", 5): "5 points", "5 баллов"; the form the language's rules pick for n.
  function plural(key, n) {
    const form = `${key}_${PLURALS.select(Number(n))}`;
    return t(form in WORDS ? form : `${key}_other`, { n: number(n) });
  }

  const state = { token: localStorage.getItem(TOKEN_KEY), card: null, pending: null, camera: null, idle: null,
                  undo: null };

  // ---- talking to the API ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status, problem = {}) { super(message); this.status = status; this.problem = problem; }
  }

  // The page's own sentence for a problem the till meets often (a limit, an undo refused), in its
  // language, with the problem's figures; else the API's words.
  const when = (iso) => new Date(iso).toLocaleString(LOCALE, { dateStyle: "short", timeStyle: "short" });
  function problemText(data, status) {
    const slug = String(data.type || "").replace(/^\/problems\//, "").replace(/[/-]/g, "_");
    const key = `problem_${slug}${slug === "limit_daily_cap" && data.left ? "_left" : ""}`;
    if (key in WORDS) {
      return t(key, { limit: number(data.limit ?? ""), left: number(data.left ?? ""),
                      next: data.next_allowed_at ? when(data.next_allowed_at) : "",
                      until: data.undo_until ? when(data.undo_until) : "" });
    }
    return data.detail || data.title || t("server_answered", { status });
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
      throw new ApiError(t("no_connection"), 0);
    }
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) {
      signOut();
      throw new ApiError(t("sign_in_again", { reason: data.detail || t("token_invalid") }), 401);
    }
    if (!response.ok) {
      throw new ApiError(problemText(data, response.status), response.status, data);
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
      throw new ApiError(t("no_connection"), 0);
    }
    const data = await response.json().catch(() => ({}));
    if (data.type === "/problems/till-unpaired") {
      localStorage.removeItem(TILL_KEY);
      showSignIn();
    }
    if (data.type === "/problems/pin-locked" && data.locked_until) {  // the till's clock, not UTC
      const until = new Date(data.locked_until).toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
      throw new ApiError(t("pin_locked", { until }), response.status);
    }
    if (!response.ok) {
      throw new ApiError(problemText(data, response.status), response.status, data);
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
    if (!till.cashiers.length) say(t("no_pins"), "warn");
    // Several cashiers: pick your name first; only one: straight to the PIN.
    if (!$("pin-form").hidden) (till.cashiers.length > 1 && !chosen ? select : $("pin")).focus();
  }

  async function pinSignIn() {
    const pin = $("pin").value;
    $("pin").value = "";  // never left on the screen, right or wrong
    if (!/^\d{4,8}$/.test(pin)) {
      say(t("pin_format"), "error");
      $("pin").focus();
      return;
    }
    say(t("signing_in"));
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
      const span = seconds >= 120 ? plural("for_minutes", Math.round(seconds / 60)) : plural("for_seconds", seconds);
      say(t("idle_signed_out", { span }), "warn");
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
    say(t("looking_up"));
    const { data: card } = await api("POST", "/api/v1/cashier/scan", { code });
    showCard(card);
    say("");
    $("code").value = "";
    $($("tx-form").elements.kind.value === "stamp" ? "stamps" : "amount").focus();
  }

  // "12.50" (as the API writes amounts) -> "12.50 EUR", "12,50 EUR": the API's decimals, the page's separators.
  function money(value, card) {
    const decimals = (String(value).split(".")[1] || "").length;
    const amount = Number(value).toLocaleString(LOCALE, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    return t("money", { amount, currency: card.program.currency });
  }

  function balanceText(card) {
    if (card.stamps !== null && card.stamps !== undefined) {
      return t("stamps_of", { stamps: number(card.stamps), required: number(card.stamps_required) });
    }
    const points = plural("points", card.balance);
    return card.balance_money ? t("balance_money", { money: money(card.balance_money, card), points }) : points;
  }

  // A partner program's card of another brand comes without its holder: that brand's customer.
  const holderName = (card) => (card.customer ? card.customer.name : t("partner_holder"));

  function showCard(card) {
    state.card = card;
    state.pending = null;
    $("holder").textContent = holderName(card);
    $("card-meta").textContent = t("card_meta", { number: card.number, program: card.program.name });
    $("balance").textContent = balanceText(card);
    $("tier").textContent = card.tier || "—";
    $("discount-row").hidden = !card.discount_percent;
    $("discount").textContent = card.discount_percent ? t("percent", { percent: number(card.discount_percent) }) : "";
    $("expiry").textContent = card.points_expire_at
      ? t("points_expire", { date: new Date(card.points_expire_at).toLocaleDateString(LOCALE, { dateStyle: "long" }) })
      : "";
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
      ? t("rewards_earned", { names: rewards.slice(0, 3).map((reward) => reward.name).join(", ")
                                     + (rewards.length > 3 ? "…" : "") }) : "";
    const redeemable = card.rewards || [];
    $("reward-box").hidden = redeemable.length === 0;
    $("reward-list").replaceChildren(...redeemable.map((reward) => rewardItem(reward, card)));
    const offers = card.rewards_for_points || [];
    $("offer-box").hidden = offers.length === 0;
    $("offer-list").replaceChildren(...offers.map((offer) => offerItem(offer, card)));
    $("recent").replaceChildren(...card.recent_transactions.map((entry) => recentItem(entry, card)));
    $("confirm").hidden = true;
    $("tx-form").hidden = false;
    $("card").hidden = false;
    $("till").classList.add("has-card");
  }

  // A reward or coupon the customer can redeem now, with its last day and a Redeem button.
  function rewardItem(reward, card) {
    const item = document.createElement("li");
    const what = document.createElement("div");
    const name = document.createElement("span");
    name.className = "reward-name";
    name.textContent = reward.name;
    what.append(name);
    if (reward.expires_at) {
      const until = document.createElement("span");
      until.className = "hint";
      until.textContent = t("reward_until", {
        date: new Date(reward.expires_at).toLocaleDateString(LOCALE, { dateStyle: "medium" }) });
      what.append(until);
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = t("redeem_reward");
    button.dataset.reward = reward.id;
    button.addEventListener("click", () => prepareReward(reward, card));
    item.append(what, button);
    return item;
  }

  // Redeeming asks for the same confirmation as a transaction, under one key for its retries.
  function prepareReward(reward, card) {
    state.pending = { cardId: card.id, path: `/api/v1/cards/${card.id}/rewards/${reward.id}/redeem`, body: {},
                      key: crypto.randomUUID(), reward: reward.name };
    $("confirm-text").textContent = t("confirm_reward", { reward: reward.name, name: card.customer.name });
    $("tx-form").hidden = true;
    $("confirm").hidden = false;
    say("");
    $("confirm-yes").focus();
  }

  // A catalogue reward sold for points, with a Buy button while the balance reaches its cost.
  function offerItem(offer, card) {
    const item = document.createElement("li");
    const what = document.createElement("div");
    const name = document.createElement("span");
    name.className = "reward-name";
    name.textContent = offer.name;
    const cost = document.createElement("span");
    cost.className = "hint";
    cost.textContent = plural("points", offer.cost_points);
    what.append(name, cost);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = t("buy_reward");
    button.dataset.offer = offer.id;
    button.disabled = !offer.affordable;
    button.addEventListener("click", () => {
      state.pending = { cardId: card.id, path: `/api/v1/cards/${card.id}/rewards`, body: { reward_id: offer.id },
                        key: crypto.randomUUID(), bought: offer.name };
      $("confirm-text").textContent = t("confirm_buy", { reward: offer.name, points: plural("points", offer.cost_points),
                                                         name: card.customer.name });
      $("tx-form").hidden = true;
      $("confirm").hidden = false;
      say("");
      $("confirm-yes").focus();
    });
    item.append(what, button);
    return item;
  }

  function recentItem(entry, card) {
    const item = document.createElement("li");
    const what = document.createElement("span");
    const points = document.createElement("span");
    const when = new Date(entry.created_at).toLocaleString(LOCALE, { dateStyle: "short", timeStyle: "short" });
    const kind = WORDS[`kind_${entry.type}`] ?? entry.type;
    what.textContent = `${when} · ${kind}${entry.amount ? ` ${money(entry.amount, card)}` : ""}`;
    points.textContent = entry.points > 0 ? `+${number(entry.points)}` : number(entry.points);
    points.className = entry.points < 0 ? "minus" : "plus";
    item.append(what, points);
    return item;
  }

  function clearCard() {
    hideUndo();
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
        return { error: t("amount_invalid") };
      }
      return { body: { type: "purchase", amount: Number(amount).toFixed(2) },
               text: (name) => t("confirm_purchase", { amount: money(Number(amount).toFixed(2), state.card), name }) };
    }
    if (kind === "stamp") {
      const stamps = $("stamps").value.trim() || "1";
      if (!/^\d+$/.test(stamps) || Number(stamps) <= 0 || Number(stamps) > 1000) {
        return { error: t("stamps_invalid") };
      }
      return { body: { type: "stamp", stamps: Number(stamps) },
               text: (name) => t("confirm_stamp", { stamps: plural("stamps", Number(stamps)), name }) };
    }
    const points = $("points").value.trim();
    if (!/^\d+$/.test(points) || Number(points) <= 0) {
      return { error: t("points_invalid") };
    }
    if (Number(points) > state.card.balance) {
      return { error: t("points_too_many", { points: plural("points", state.card.balance) }) };
    }
    return { body: { type: "redeem", points: Number(points) },
             text: (name) => t("confirm_redeem", { points: plural("points", Number(points)), name }) };
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
    $("confirm-text").textContent = text(holderName(state.card));
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
    say(t("saving"));
    try {
      const path = pending.path || `/api/v1/cards/${pending.cardId}/transactions`;
      const { data: result, replayed } = await api("POST", path, pending.body, { "Idempotency-Key": pending.key });
      state.pending = null;
      $("tx-form").reset();
      showKind("purchase");
      const earned = (result.rewards_earned || []).map((reward) => reward.name);
      const saved = `${replayed ? t("replayed") : t("saved")} `
        + (pending.reward ? t("reward_redeemed", { reward: result.reward.name })
          : pending.bought ? `${t("reward_bought", { reward: result.reward.name })} `
            + t("new_balance", { balance: balanceText({ ...state.card, balance: result.transaction.balance }) })
          : t("new_balance", { balance: balanceText({ ...state.card, ...result }) }))
        + (earned.length ? ` ${t("reward_earned", { names: earned.join(", ") })}` : "");
      say(`${saved} ${t("notifying")}`, "ok");
      const { data: card } = await api("POST", "/api/v1/cashier/scan", { code: state.card.number });
      showCard(card);
      offerUndo(result, card);
      await reportPush(pending.cardId, saved);
    } catch (error) {
      const retry = state.pending && (error.status === 0 || error.status >= 500);
      say(retry ? t("try_again", { error: error.message }) : error.message, "error");
      if (!state.pending) change();
    } finally {
      $("confirm-yes").disabled = false;
    }
  }

  // ---- undo: the cashier's own last transaction, while the program's window lasts --------

  function offerUndo(result, card) {
    hideUndo();
    const minutes = card.program.undo_window_minutes || 0;
    const until = new Date(result.created_at).getTime() + minutes * 60000;
    if (!minutes || until <= Date.now()) return;
    // one key per undo: pressing again after a lost answer does not reverse twice
    state.undo = { id: result.id, cardId: card.id, key: crypto.randomUUID(),
                   timer: setTimeout(hideUndo, until - Date.now()) };
    const time = new Date(until).toLocaleTimeString(LOCALE, { timeStyle: "short" });
    $("undo-until").textContent = t("undo_until", { time });
    $("undo").hidden = false;
  }

  function hideUndo() {
    if (state.undo) clearTimeout(state.undo.timer);
    state.undo = null;
    $("undo").hidden = true;
  }

  async function undo() {
    const pending = state.undo;
    if (!pending) return;
    $("undo-button").disabled = true;
    say(t("undoing"));
    try {
      const { data: result } = await api("POST", `/api/v1/transactions/${pending.id}/reverse`, {},
                                         { "Idempotency-Key": pending.key });
      hideUndo();
      const done = `${t("undone")} ${t("new_balance", { balance: balanceText({ ...state.card, ...result }) })}`;
      say(done, "ok");
      const { data: card } = await api("POST", "/api/v1/cashier/scan", { code: state.card.number });
      showCard(card);
      await reportPush(pending.cardId, done);
    } catch (error) {
      if (error.status === 403 || error.status === 409 || error.status === 422) hideUndo();
      say(error.message, "error");
    } finally {
      $("undo-button").disabled = false;
    }
  }

  // Did the change leave for the phones? Ask a few times while pushes are still queued.
  async function reportPush(cardId, prefix) {
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const { data: push } = await api("GET", `/cashier/cards/${cardId}/push`);
      if (push.devices === 0) {
        say(`${prefix} ${t("no_phone")}`, "ok");
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
    const parts = [];
    if (sent) parts.push(plural("phones_sent", sent));
    if (pending) parts.push(plural("phones_pending", pending));
    if (failed) parts.push(plural("phones_failed", failed));
    return t("push_report", { parts: parts.join(", ") });
  }

  // ---- the camera -----------------------------------------------------------------------

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = JSQR_URL;
      script.onload = () => resolve(window.jsQR);
      script.onerror = () => reject(new Error(t("qr_reader_failed")));
      document.head.append(script);
    });
  }

  // The symbologies a card may carry (QR with the signed code; a brand's plastic-card formats).
  const CARD_FORMATS = ["qr_code", "code_128", "ean_13", "pdf417", "aztec"];

  // A function frame -> code (or null): the browser's own detector where it has one (it also reads
  // the plastic-card formats it supports), else jsQR (QR only).
  async function makeDecoder() {
    const supported = "BarcodeDetector" in window ? await window.BarcodeDetector.getSupportedFormats() : [];
    if (supported.includes("qr_code")) {
      const detector = new window.BarcodeDetector({ formats: CARD_FORMATS.filter((name) => supported.includes(name)) });
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
      say(t("no_camera_api"), "error");
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
        ? t("camera_blocked")
        : error instanceof ApiError ? error.message : t("camera_failed"),
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
  $("undo-button").addEventListener("click", () => undo());
  $("next").addEventListener("click", () => { clearCard(); say(""); $("code").focus(); });
  $("sign-out").addEventListener("click", () => { signOut(); say(t("signed_out")); });
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
    if (paired) say(t("paired"), "ok");
  }
})();
