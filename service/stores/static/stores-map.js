// The stores' map over the operator's tile server (MAP_TILE_URL): only loaded when one is set, and
// the page's CSP lets that one origin's images in. The stores come from a JSON block the server
// wrote; with a store form on the page, a click on the map fills its latitude and longitude.
"use strict";

(() => {
  const box = document.getElementById("stores-map");
  if (!box || !window.L) return;
  let points = [];
  try { points = JSON.parse(document.getElementById("stores-map-points").textContent); } catch (error) { points = []; }
  const map = window.L.map(box, { scrollWheelZoom: false });
  const credit = document.createElement("span");
  credit.textContent = box.dataset.attribution || "";  // text, never HTML: Leaflet would insert it as markup
  window.L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: credit.innerHTML }).addTo(map);
  map.attributionControl.setPrefix(false);
  const dots = points.map((point) => window.L.circleMarker([point.lat, point.lon], { radius: 8, color: "#1f3a5f" })
    .bindTooltip(point.name).addTo(map));
  if (dots.length > 1) map.fitBounds(window.L.featureGroup(dots).getBounds().pad(0.2));
  else if (dots.length === 1) map.setView([points[0].lat, points[0].lon], 15);
  else map.setView([20, 0], 2);

  if (box.dataset.pick !== "true") return;
  const latitude = document.getElementById("store-latitude");
  const longitude = document.getElementById("store-longitude");
  if (!latitude || !longitude) return;
  let chosen = null;
  map.on("click", (event) => {
    const { lat, lng } = event.latlng.wrap();
    latitude.value = lat.toFixed(6);
    longitude.value = lng.toFixed(6);
    if (chosen) chosen.setLatLng(event.latlng);
    else chosen = window.L.circleMarker(event.latlng, { radius: 8, color: "#d9822b" }).addTo(map);
  });
})();
