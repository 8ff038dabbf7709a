/// The console's script (`/console.js`): the live model from `/api/events`, the station cards, the controls, and the
/// SVG charts. Values from chargers are set as text (`textContent`, attributes), never as markup.
extension ConsolePage {
    static let script = #"""
        "use strict";
        // The console's live model: each station's retained topics below its root, as on MQTT.
        const model = {};
        const cards = {};
        const power = {};          // station -> [[time ms, watts]], the last WINDOW
        const WINDOW = 10 * 60 * 1000;
        const COLORS = ["#2563eb", "#16a34a", "#d97706", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];

        const $ = (selector, root = document) => root.querySelector(selector);
        function el(tag, attrs = {}, text) {
          const node = document.createElement(tag);
          for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
          if (text !== undefined) node.textContent = text;
          return node;
        }
        function svg(tag, attrs = {}, text) {
          const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
          for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
          if (text !== undefined) node.textContent = text;
          return node;
        }
        function pill(node, text, kind) { node.textContent = text; node.className = "pill" + (kind ? " " + kind : ""); }
        function num(value) { const n = parseFloat(value); return Number.isFinite(n) ? n : null; }
        function fmt(value, digits = 0) { return value === null ? "–" : value.toLocaleString(undefined, { maximumFractionDigits: digits }); }
        function watts(w) { return w === null ? "–" : Math.abs(w) >= 1000 ? fmt(w / 1000, 2) + " kW" : fmt(w) + " W"; }
        function ago(text) {
          const t = Date.parse(text);
          if (!Number.isFinite(t)) return text || "never";
          const s = Math.max(0, Math.round((Date.now() - t) / 1000));
          return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : new Date(t).toLocaleString();
        }

        // Connector numbers: from connector/<n>/state topics; the flat state topics mirror connector 1.
        function connectorsOf(s) {
          const ids = new Set();
          for (const path in s) {
            const m = /^connector\/(\d+)\/state\//.exec(path);
            if (m && m[1] !== "0") ids.add(Number(m[1]));
          }
          if (!ids.has(1) && "state/status" in s) ids.add(1);
          return [...ids].sort((a, b) => a - b);
        }
        function cv(s, n, parameter) { return s[`connector/${n}/state/${parameter}`] ?? (n === 1 ? s[`state/${parameter}`] : undefined); }
        function stationPower(s) {
          let total = null;
          for (const n of connectorsOf(s)) {
            const w = num(cv(s, n, "power_active_import"));
            if (w !== null) total = (total ?? 0) + w;
          }
          return total;
        }

        async function send(station, path, body, label) {
          const card = cards[station];
          const result = $(".result", card.node);
          result.className = "result";
          result.textContent = label + "…";
          try {
            const response = await fetch(`api/stations/${encodeURIComponent(station)}/${path}`, {
              method: "POST", headers: { "X-OCPP-Gateway": "console", "Content-Type": "text/plain" }, body, credentials: "same-origin",
            });
            const text = await response.text();
            let doc = null;
            try { doc = JSON.parse(text); } catch (e) { /* a plain-text error */ }
            let summary = text.trim();
            if (doc && doc.status === "ok") {
              summary = Object.entries(doc.response || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ") || "ok";
            } else if (doc && doc.error) {
              summary = `${doc.error.code}: ${doc.error.description}`;
            } else if (doc && doc.override) {
              summary = "override " + doc.override;
            }
            result.className = "result " + (response.ok ? "ok" : "bad");
            result.textContent = `${label}: ${summary}`;
          } catch (error) {
            result.className = "result bad";
            result.textContent = `${label}: ${error}`;
          }
        }
        const control = (station, name, value, label) => send(station, "controls/" + name, String(value), label);

        function card(station) {
          if (cards[station]) return cards[station];
          const node = el("section", { class: "station", "data-station": station });
          const head = el("header");
          const conn = el("span", { class: "pill" });
          head.append(el("h2", {}, station), conn);
          const relay = el("div", { class: "relay" });
          relay.hidden = true;
          const chart = svg("svg", { class: "chart", viewBox: "0 0 300 90", role: "img", "aria-label": "Power, last 10 minutes" });
          const table = el("table", { class: "connectors" });
          const headRow = el("tr");
          for (const title of ["#", "Status", "Power", "Current", "Session", "Transaction", ""]) headRow.append(el("th", {}, title));
          table.append(el("thead"), el("tbody"));
          table.tHead.append(headRow);
          const scroll = el("div", { class: "scroll" });
          scroll.append(table);

          const controls = el("div", { class: "controls" });
          const switchLabel = el("label");
          const charging = el("input", { type: "checkbox", class: "charging" });
          switchLabel.append(charging, document.createTextNode("Charging allowed"));
          charging.addEventListener("change", () => control(station, "charging_enabled", charging.checked ? "ON" : "OFF", "Charging switch"));
          const amps = el("input", { type: "number", min: "0", step: "1", class: "amps", "aria-label": "Current limit in amperes" });
          const limit = el("button", { type: "button", class: "limit" }, "Set limit (A)");
          limit.addEventListener("click", () => control(station, "max_current", amps.value, "Current limit"));
          const soft = el("button", { type: "button", class: "reset-soft" }, "Soft reset");
          soft.addEventListener("click", () => control(station, "reset", "Soft", "Soft reset"));
          const hard = el("button", { type: "button", class: "reset-hard danger" }, "Hard reset");
          hard.addEventListener("click", () => { if (confirm(`Hard reset ${station}?`)) control(station, "reset", "Hard", "Hard reset"); });
          const availability = el("button", { type: "button", class: "availability" }, "Make unavailable");
          availability.addEventListener("click", () => {
            const operative = (model[station]["state/availability"] || "Operative") !== "Operative";
            control(station, "availability", operative ? "Operative" : "Inoperative", "Availability");
          });
          controls.append(switchLabel, amps, limit, availability, soft, hard);

          node.append(head, el("p", { class: "meta" }), relay, chart, scroll, controls, el("p", { class: "result", "aria-live": "polite" }));
          const placed = Object.keys(cards).concat(station).sort();
          const container = $("#stations");
          const next = placed[placed.indexOf(station) + 1];
          container.insertBefore(node, next ? cards[next].node : null);
          cards[station] = { node, conn, relay, chart, tbody: table.tBodies[0], charging, amps, availability, ampsTouched: false };
          amps.addEventListener("input", () => { cards[station].ampsTouched = true; });
          return cards[station];
        }

        function renderStation(station) {
          const s = model[station];
          const c = card(station);
          const connected = s["state/connection_state"] === "CONNECTED";
          pill(c.conn, connected ? "connected" : "disconnected", connected ? "ok" : "");
          const facts = [s["state/charge_point_vendor"], s["state/charge_point_model"], s["state/firmware_version"] && "firmware " + s["state/firmware_version"],
                         s["state/ocpp_version"] && "OCPP " + s["state/ocpp_version"]]
            .filter(Boolean).join(" · ");
          $(".meta", c.node).textContent = (facts ? facts + " · " : "") + "last seen " + ago(s["state/last_seen"]);

          c.charging.checked = s["state/charging_enabled"] !== "OFF";
          if (!c.ampsTouched && document.activeElement !== c.amps && s["state/max_current"] !== undefined) c.amps.value = s["state/max_current"];
          c.availability.textContent = (s["state/availability"] || "Operative") === "Operative" ? "Make unavailable" : "Make available";

          renderRelay(station, s, c);

          const rows = [];
          for (const n of connectorsOf(s)) {
            const row = el("tr", { "data-connector": String(n) });
            const phases = ["l1", "l2", "l3"].map(p => num(cv(s, n, "current_import_" + p)));
            const current = phases.some(v => v !== null) ? phases.map(v => fmt(v, 1)).join(" / ") + " A"
              : (num(cv(s, n, "current_import")) !== null ? fmt(num(cv(s, n, "current_import")), 1) + " A" : "–");
            const energy = num(cv(s, n, "session_energy"));
            const transaction = cv(s, n, "transaction_id");
            const tag = cv(s, n, "id_tag");
            row.append(el("td", {}, String(n)), el("td", { class: "status" }, cv(s, n, "status") || "–"),
                       el("td", { class: "power" }, watts(num(cv(s, n, "power_active_import")))), el("td", {}, current),
                       el("td", { class: "session" }, energy === null ? "–" : fmt(energy / 1000, 2) + " kWh"),
                       transactionCell(transaction, tag));
            const actions = el("td", { class: "actions" });
            const start = el("button", { type: "button", class: "start" }, transaction ? "Stop" : "Start");
            start.addEventListener("click", () => transaction
              ? control(station, "remote_stop", n, `Stop on ${n}`) : control(station, "remote_start", n, `Start on ${n}`));
            const unlock = el("button", { type: "button", class: "unlock" }, "Unlock");
            unlock.addEventListener("click", () => control(station, "unlock_connector", n, `Unlock ${n}`));
            actions.append(start, document.createTextNode(" "), unlock);
            row.append(actions);
            rows.push(row);
          }
          c.tbody.replaceChildren(...rows);
          drawPower(station);
        }

        function transactionCell(transaction, tag) {
          const cell = el("td", { class: "transaction" }, transaction || "–");
          if (transaction && tag) cell.append(el("span", { class: "tag" }, tag));
          return cell;
        }

        function renderRelay(station, s, c) {
          if (!("relay/state" in s)) { c.relay.hidden = true; return; }
          c.relay.hidden = false;
          const state = s["relay/state"];
          const parts = [el("span", {}, "Upstream:"), el("span", { class: "pill upstream " + (state === "connected" ? "ok" : state === "offline" ? "bad" : "warn") }, state)];
          if (s["relay/queue"] !== undefined) parts.push(el("span", { class: "pill" }, "queue " + s["relay/queue"]));
          let secondaries = [];
          try { secondaries = JSON.parse(s["relay/secondaries"] || "[]"); } catch (e) { secondaries = []; }
          for (const second of secondaries) {
            const name = second.name || second.url;
            parts.push(el("span", { class: "pill " + (second.state === "connected" ? "ok" : "warn") }, `${name}: ${second.state}, queue ${second.queue ?? 0}`));
          }
          if (s["relay/control"]) parts.push(el("span", { class: "pill" }, "control: " + s["relay/control"]));
          const on = s["relay/override"] === "ON";
          const override = el("button", { type: "button", class: "override" }, on ? "Override ON: release" : "Override the upstream");
          override.addEventListener("click", () => send(station, "override", on ? "OFF" : "ON", "Override"));
          parts.push(override);
          c.relay.replaceChildren(...parts);
        }

        function samplePower(station, at) {
          const w = stationPower(model[station]);
          const list = power[station] ||= [];
          if (w === null) return;
          const last = list[list.length - 1];
          if (!last || last[1] !== w || at - last[0] > 5000) list.push([at, w]);
          while (list.length && list[0][0] < at - WINDOW - 60000) list.shift();
        }

        function drawPower(station) {
          const c = cards[station];
          const points = power[station] || [];
          const now = Date.now();
          const visible = points.filter(p => p[0] >= now - WINDOW);
          const before = points.filter(p => p[0] < now - WINDOW).pop();
          if (before) visible.unshift([now - WINDOW, before[1]]);
          const max = Math.max(1000, ...visible.map(p => p[1]));
          // Drawn at the chart's own width, so text is not stretched.
          const W = Math.max(200, Math.round(c.chart.clientWidth || 300));
          c.chart.setAttribute("viewBox", `0 0 ${W} 90`);
          const x = t => ((t - (now - WINDOW)) / WINDOW) * W;
          const y = w => 86 - (w / max) * 72;
          const nodes = [svg("text", { x: 4, y: 11 }, "max " + watts(max)), svg("text", { x: 4, y: 86 }, "10 min")];
          if (visible.length) {
            let d = `M${x(visible[0][0]).toFixed(1)},${y(visible[0][1]).toFixed(1)}`;
            for (let i = 1; i < visible.length; i++) d += `H${x(visible[i][0]).toFixed(1)}V${y(visible[i][1]).toFixed(1)}`;
            d += `H${W}`;
            nodes.unshift(svg("path", { class: "area", d: d + `V86H${x(visible[0][0]).toFixed(1)}Z` }), svg("path", { class: "line", d }));
            nodes.push(svg("text", { x: W - 4, y: 11, "text-anchor": "end", class: "now" }, watts(visible[visible.length - 1][1])));
          } else {
            nodes.push(svg("text", { x: W / 2, y: 50, "text-anchor": "middle" }, "no power readings yet"));
          }
          c.chart.replaceChildren(...nodes);
        }

        let energyDue = false;
        function apply(event) {
          if (event.reset) {
            for (const key in model) delete model[key];
          }
          const at = Date.parse(event.at) || Date.now();
          for (const [station, paths] of Object.entries(event.stations || {})) {
            const s = model[station] ||= {};
            for (const [path, value] of Object.entries(paths)) {
              if (value === "") delete s[path]; else s[path] = value;
              if (!event.reset && path.endsWith("meter_stop")) energyDue = true;
            }
            samplePower(station, at);
          }
          const g = event.gateway || {};
          pill($("#mqtt"), g.mqtt_connected ? "MQTT connected" : "MQTT disconnected", g.mqtt_connected ? "ok" : "bad");
          pill($("#outbox"), "outbox " + (g.outbox ?? "?"), g.outbox > 1000 ? "warn" : "");
          const stations = Object.keys(model).filter(st => Object.keys(model[st]).some(p => p.startsWith("state/") || p.startsWith("connector/")));
          for (const station of Object.keys(cards)) {
            if (!stations.includes(station)) { cards[station].node.remove(); delete cards[station]; }
          }
          for (const station of stations.sort()) renderStation(station);
          $("#empty").hidden = stations.length > 0;
          document.body.dataset.updated = String(Date.now());
          if (energyDue) { energyDue = false; loadEnergy(); }
        }

        function connect() {
          const source = new EventSource("api/events");
          source.addEventListener("open", () => pill($("#stream"), "live", "ok"));
          source.addEventListener("error", () => pill($("#stream"), "reconnecting…", "warn"));
          source.addEventListener("state", message => apply(JSON.parse(message.data)));
        }

        async function loadStatus() {
          try {
            const status = await (await fetch("api/status", { credentials: "same-origin" })).json();
            pill($("#about"), `${status.mode} · v${status.version}`, "muted");
          } catch (e) { /* shown again at the next try */ }
        }

        // Energy per day and station from the transaction history: stacked bars for the last 14 days.
        async function loadEnergy() {
          const days = 14;
          const since = new Date(Date.now() - days * 86400000);
          since.setHours(0, 0, 0, 0);
          try {
            const response = await fetch("api/transactions?since=" + encodeURIComponent(since.toISOString()), { credentials: "same-origin" });
            if (!response.ok) return;
            lastHistory = await response.json();
          } catch (e) { return; }
          drawEnergy(lastHistory, days);
        }
        let lastHistory = [];

        function drawEnergy(history, days = 14) {
          const dayKey = date => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
          const keys = [];
          for (let i = days - 1; i >= 0; i--) keys.push(dayKey(new Date(Date.now() - i * 86400000)));
          const stations = [...new Set(history.map(t => t.station))].sort();
          const totals = {};
          for (const t of history) {
            if (t.energy_wh === null || !t.stopped_at) continue;
            const key = dayKey(new Date(t.stopped_at));
            (totals[key] ||= {})[t.station] = ((totals[key] || {})[t.station] || 0) + t.energy_wh / 1000;
          }
          const max = Math.max(1, ...keys.map(k => Object.values(totals[k] || {}).reduce((a, b) => a + b, 0)));
          const chart = $("#energy");
          const W = Math.max(300, Math.round(chart.clientWidth || 600));
          chart.setAttribute("viewBox", `0 0 ${W} 180`);
          const nodes = [svg("text", { x: 4, y: 12 }, fmt(max, 1) + " kWh")];
          const width = W / days;
          keys.forEach((key, i) => {
            let top = 160;
            stations.forEach((station, j) => {
              const kwh = (totals[key] || {})[station] || 0;
              if (!kwh) return;
              const h = (kwh / max) * 140;
              top -= h;
              const bar = svg("rect", { x: (i * width + width * 0.15).toFixed(1), y: top.toFixed(1), width: (width * 0.7).toFixed(1), height: h.toFixed(1),
                                        fill: COLORS[j % COLORS.length], "data-station": station, "data-day": key });
              bar.append(svg("title", {}, `${station}, ${key}: ${fmt(kwh, 2)} kWh`));
              nodes.push(bar);
            });
            if (width >= 34 || i % 2 === days % 2) {
              nodes.push(svg("text", { x: (i * width + width / 2).toFixed(1), y: 174, "text-anchor": "middle" }, key.slice(5)));
            }
          });
          chart.replaceChildren(...nodes);
          $("#energy-legend").replaceChildren(...stations.map((station, j) => {
            const item = el("span");
            const swatch = el("i");
            swatch.style.background = COLORS[j % COLORS.length];
            item.append(swatch, document.createTextNode(station));
            return item;
          }));
        }

        document.addEventListener("DOMContentLoaded", () => {
          connect();
          loadStatus();
          loadEnergy();
          setInterval(() => { for (const station in cards) drawPower(station); }, 1000);
          setInterval(loadEnergy, 60000);
          window.addEventListener("resize", () => {
            drawEnergy(lastHistory);
            for (const station in cards) drawPower(station);
          });
          // "last seen … ago" moves on without news.
          setInterval(() => { for (const station in cards) renderStation(station); }, 10000);
        });
        """#
}
