"""The risk-live page's stylesheet (inlined in the page's index by ``mech_exo.dashboard.app``)."""
from __future__ import annotations

from mech_exo.reporting.dash_layout import theme as t

CSS = """
* { box-sizing: border-box; }
body { margin: 0; background: %(bg)s; color: %(ink)s; font-family: %(font)s; font-size: 14px; }
.wrap { max-width: 1480px; margin: 0 auto; padding: 0 18px; }
.muted { color: %(muted)s; }
.topbar { background: %(navy)s; color: #fff; display: flex; justify-content: space-between; align-items: center;
          padding: 10px 24px; flex-wrap: wrap; gap: 8px; }
.brand { font-weight: 800; letter-spacing: .12em; font-size: 13px; opacity: .8; margin-right: 12px; }
.title { font-size: 19px; font-weight: 600; }
.topbar-meta { font-size: 13px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.topbar-meta .muted { color: #b8c2d6; }
.topbar-meta .sep { color: #56627d; }
.stale { color: #ffb4a8; font-weight: 600; }
.ks-banner { margin: 14px 0 0; border-radius: 8px; }
.ks-enabled { background: #e8f5ec; border: 1px solid #b9e0c5; color: #1d5e33; padding: 8px 14px; font-size: 14px; }
.ks-dot { color: %(green)s; margin-right: 6px; }
.ks-halted { background: %(red)s; color: #fff; padding: 16px 22px; display: flex; gap: 18px; align-items: center;
             box-shadow: 0 0 0 4px rgba(215,48,39,.25); animation: pulse 2s infinite; }
@keyframes pulse { 0%%,100%% { box-shadow: 0 0 0 4px rgba(215,48,39,.25);} 50%% { box-shadow: 0 0 0 9px rgba(215,48,39,.12);} }
.ks-icon { flex: none; width: 48px; height: 48px; border-radius: 50%%; border: 4px solid #fff; font-size: 30px;
           font-weight: 900; display: flex; align-items: center; justify-content: center; }
.ks-head { font-size: 24px; font-weight: 800; letter-spacing: .04em; }
.ks-reason { font-size: 16px; margin-top: 2px; }
.ks-meta { font-size: 13px; opacity: .9; margin-top: 2px; }
.ks-howto { margin-left: auto; font-size: 12px; opacity: .92; text-align: right; }
.ks-howto code { background: rgba(255,255,255,.18); padding: 1px 5px; border-radius: 4px; }
.suspect { margin-top: 12px; background: #fff4d6; border: 1px solid #f0c85a; color: #6b4e00; padding: 8px 14px;
           border-radius: 8px; }
.card { background: %(paper)s; border: 1px solid %(line)s; border-radius: 10px; box-shadow: 0 1px 2px rgba(16,24,40,.05); }
.kpi-row { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px; margin-top: 14px; }
.kpi { padding: 12px 14px; border-top: 4px solid %(line)s; min-height: 118px; }
.kpi-green { border-top-color: %(green)s; } .kpi-yellow { border-top-color: %(yellow)s; }
.kpi-red { border-top-color: %(red)s; } .kpi-unknown { border-top-color: %(grey)s; }
.kpi-neutral { border-top-color: %(neutral)s; }
.health-banner { margin-top: 12px; background: #fdecea; border: 2px solid %(red)s; color: #7a1a12; padding: 10px 14px;
                 border-radius: 8px; font-size: 14px; }
.health-banner b { letter-spacing: .04em; }
.explain { font-size: 12px; color: %(muted)s; margin-top: 6px; line-height: 1.45; }
.kpi-title { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: %(muted)s; font-weight: 600; }
.kpi-value { font-size: 26px; font-weight: 700; margin: 4px 0 2px; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kpi-sub { font-size: 12.5px; line-height: 1.45; }
.kpi-sub .strong { font-weight: 600; }
.badge { display: inline-block; padding: 2px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; }
.kpi-value .badge { font-size: 20px; padding: 3px 14px; }
.badge-green { background: %(green)s; } .badge-yellow { background: %(yellow)s; } .badge-red { background: %(red)s; }
.badge-unknown { background: %(grey)s; }
.badge-line { margin-top: 6px; }
.util { position: relative; height: 7px; background: #edf0f5; border-radius: 4px; margin-top: 8px; overflow: visible; }
.util-fill { height: 7px; border-radius: 4px; }
.util-tick { position: absolute; top: -3px; width: 2px; height: 13px; background: %(yellow)s; }
.util-tick.crit { background: %(red)s; }
.grid2 { display: grid; grid-template-columns: 5fr 7fr; gap: 12px; margin-top: 12px; }
.panel { padding: 10px 12px 6px; margin-top: 12px; }
.grid2 .panel { margin-top: 0; }
.panel-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; margin-bottom: 4px; }
.panel-title { font-weight: 650; font-size: 15px; }
.panel-sub { font-size: 12px; color: %(muted)s; text-align: right; }
.exp-strip { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px; margin: 4px 0 6px; }
.exp-tile { background: %(bg)s; border-radius: 8px; padding: 6px 12px; }
.exp-label { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: %(muted)s; font-weight: 600; }
.exp-value { font-size: 20px; font-weight: 700; font-variant-numeric: tabular-nums; }
.ptable { width: 100%%; border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
.ptable th { text-align: left; font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; color: %(muted)s;
             border-bottom: 2px solid %(line)s; padding: 7px 8px; }
.ptable td { border-bottom: 1px solid %(line)s; padding: 6px 8px; }
.ptable tr:hover td { background: #f7f9fc; }
.ptable .num { text-align: right; }
.ptable .neg { color: %(red)s; } .ptable .pos-risk { color: #9b2c2c; }
.ptable .over { color: #fff; background: %(red)s; font-weight: 700; border-radius: 4px; }
.table-panel { padding-bottom: 10px; }
.nodata { margin: 40px auto; max-width: 640px; text-align: center; padding: 36px; }
.nodata-icon { font-size: 44px; color: %(grey)s; }
.nodata h2 { margin: 6px 0 10px; }
.footer { font-size: 12px; text-align: right; padding: 14px 0 22px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
@media (max-width: 1200px) { .kpi-row { grid-template-columns: repeat(3, minmax(0, 1fr)); }
                             .grid2 { grid-template-columns: 1fr; } }
""" % {"bg": t.BG, "ink": t.INK, "muted": t.MUTED, "navy": t.NAVY, "paper": t.PAPER, "line": t.LINE,
       "green": t.GREEN, "yellow": t.YELLOW, "red": t.RED, "grey": t.GREY, "neutral": t.NEUTRAL, "font": t.FONT}
