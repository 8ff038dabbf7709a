/// The web console: one page, its style sheet and its script, written here and served from the binary (no CDN, no
/// framework). Every URL in them is relative, so the console works below a proxy's prefix (Home Assistant's Ingress
/// serves it at `/api/hassio_ingress/<token>/`). The script reads `/api/events` (server-sent events) and draws
/// with SVG; values from chargers are set as text, never as markup.
enum ConsolePage {
    /// Scripts and styles from this origin only; no inline code, no framing restrictions (Ingress frames the page).
    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"),
        ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-cache"),
    ]

    static func page(showLogOut: Bool) -> AdminResponse {
        let logOut = showLogOut
            ? #"<form method="post" action="logout" class="logout"><button type="submit">Log out</button></form>"# : ""
        return html(title: "ocpp-gateway", script: true, body: """
            <body>
            <header class="top">
              <h1>ocpp-gateway</h1>
              <div class="pills">
                <span id="stream" class="pill warn">connecting…</span>
                <span id="mqtt" class="pill">MQTT …</span>
                <span id="outbox" class="pill">outbox …</span>
                <span id="about" class="pill muted"></span>
              </div>
              \(logOut)
            </header>
            <main>
              <p id="empty" class="muted">No charger has connected yet. Point one at <code>ws://&lt;this host&gt;:3000/&lt;station id&gt;</code>.</p>
              <div id="stations" class="stations"></div>
              <section class="history">
                <h2>Energy per day</h2>
                <svg id="energy" class="energy" viewBox="0 0 600 180" role="img" aria-label="Energy per day and station, last 14 days"></svg>
                <div id="energy-legend" class="legend"></div>
                <p><a href="api/transactions.csv" download="transactions.csv">Download the transactions (CSV)</a> ·
                   <a href="api/transactions">JSON</a> · <a href="api/status">status</a> · <a href="metrics">metrics</a></p>
              </section>
            </main>
            </body>
            """)
    }

    /// A page of the console: the shared head (style sheet, no favicon request, the script when asked), then `body`.
    private static func html(title: String, script: Bool, body: String) -> AdminResponse {
        let text = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title)</title>
            <link rel="stylesheet" href="console.css">
            <link rel="icon" href="data:,">\(script ? "\n<script src=\"console.js\" defer></script>" : "")
            </head>
            \(body)
            </html>

            """
        return AdminResponse(status: .ok, contentType: "text/html; charset=utf-8", body: text, headers: securityHeaders)
    }

    static func login(tokenSet: Bool, failed: Bool) -> AdminResponse {
        let message = !tokenSet
            ? #"<p class="error">No ADMIN_TOKEN is set: the console answers on a loopback listener only (ADMIN_ADDR=127.0.0.1), or set ADMIN_TOKEN.</p>"#
            : failed ? #"<p class="error" id="failed">That is not the admin token.</p>"# : ""
        return html(title: "ocpp-gateway: log in", script: false, body: """
            <body class="login">
            <form method="post" action="login" class="card">
              <h1>ocpp-gateway</h1>
              \(message)
              <label for="token">Admin token</label>
              <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
              <button type="submit">Log in</button>
            </form>
            </body>
            """)
    }
}
