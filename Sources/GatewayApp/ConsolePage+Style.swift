/// The console's style sheet (`/console.css`): light and dark, one column on a phone.
extension ConsolePage {
    static let css = #"""
        :root { --bg: #f4f5f7; --card: #fff; --ink: #1d232b; --muted: #6b7480; --line: #e2e5ea; --ok: #1f8f4e; --warn: #b7791f;
                --bad: #c0392b; --accent: #2563eb; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
        @media (prefers-color-scheme: dark) {
          :root { --bg: #14171c; --card: #1d2229; --ink: #e6e9ee; --muted: #98a2ae; --line: #2d343d; --accent: #60a5fa; }
        }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--bg); color: var(--ink); font-size: 15px; }
        header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .75rem 1rem;
                     background: var(--card); border-bottom: 1px solid var(--line); }
        header.top h1 { font-size: 1.15rem; margin: 0; }
        .pills { display: flex; flex-wrap: wrap; gap: .4rem; flex: 1; }
        .pill { display: inline-block; padding: .15rem .55rem; border-radius: 999px; border: 1px solid var(--line);
                font-size: .8rem; white-space: nowrap; }
        .pill.ok { background: var(--ok); border-color: var(--ok); color: #fff; }
        .pill.warn { background: var(--warn); border-color: var(--warn); color: #fff; }
        .pill.bad { background: var(--bad); border-color: var(--bad); color: #fff; }
        .muted { color: var(--muted); }
        a { color: var(--accent); }
        main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
        .stations { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 420px), 1fr)); gap: 1rem; }
        .station, .history, .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .9rem; }
        .station header { display: flex; align-items: center; gap: .5rem; justify-content: space-between; }
        .station h2, .history h2 { font-size: 1.05rem; margin: 0; overflow-wrap: anywhere; }
        .meta { margin: .3rem 0 .6rem; color: var(--muted); font-size: .85rem; }
        .relay { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin-bottom: .5rem; font-size: .85rem; }
        .chart { width: 100%; height: 90px; display: block; background: var(--bg); border-radius: 6px; }
        .chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
        .chart .area { fill: var(--accent); opacity: .12; }
        .chart text { font-size: 10px; fill: var(--muted); }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .85rem; }
        th, td { text-align: left; padding: .3rem .35rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
        th { color: var(--muted); font-weight: 500; }
        td.actions { white-space: normal; text-align: right; }
        td .tag { display: block; color: var(--muted); font-size: .8em; }
        td.actions button { padding: .15rem .45rem; margin: .1rem 0; }
        .controls { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
        .controls label { display: inline-flex; gap: .3rem; align-items: center; }
        button { font: inherit; font-size: .85rem; padding: .3rem .6rem; border-radius: 6px; border: 1px solid var(--line);
                 background: var(--bg); color: var(--ink); cursor: pointer; }
        button:hover { border-color: var(--accent); }
        button.danger { color: var(--bad); }
        input[type=number] { width: 4.5rem; font: inherit; padding: .25rem; border-radius: 6px; border: 1px solid var(--line);
                             background: var(--bg); color: var(--ink); }
        .result { min-height: 1.2em; margin: .5rem 0 0; font-size: .85rem; overflow-wrap: anywhere; }
        .result.ok { color: var(--ok); }
        .result.bad { color: var(--bad); }
        .history { margin-top: 1rem; }
        .energy { width: 100%; height: 180px; display: block; }
        .energy text { font-size: 10px; fill: var(--muted); }
        .legend { display: flex; flex-wrap: wrap; gap: .8rem; font-size: .85rem; margin: .3rem 0; }
        .legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
        .logout button { font-size: .8rem; }
        body.login { display: grid; place-items: center; min-height: 100vh; }
        body.login form { display: grid; gap: .6rem; width: min(92vw, 340px); }
        body.login input { font: inherit; padding: .45rem; border-radius: 6px; border: 1px solid var(--line); }
        .error { color: var(--bad); }
        @media (max-width: 520px) { main { padding: .5rem; } th, td { padding: .25rem; } }
        """#
}
