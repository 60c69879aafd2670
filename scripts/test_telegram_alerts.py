#!/usr/bin/env python
"""Send one test alert through the configured channel and say plainly whether it arrived.

Run-book usage:
    python scripts/test_telegram_alerts.py                 # Telegram (needs TELEGRAM_BOT_TOKEN/CHAT_ID)
    python scripts/test_telegram_alerts.py --dry-run       # show what would be sent, send nothing
    python scripts/test_telegram_alerts.py --channel all --home /srv/exo
Exit code 0 when delivered (or a dry run whose channel is usable), 1 when not delivered, 2 when
the channel is not configured. The bot token is never printed.
"""
from __future__ import annotations

import argparse
import json
import sys

from mech_exo.alerts import send_test_alert
from mech_exo.alerts.redact import scrub
from mech_exo.home import Home


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="home directory (default: EXO_HOME or the current directory)")
    ap.add_argument("--channel", default="telegram", choices=["telegram", "console", "all"])
    ap.add_argument("--dry-run", action="store_true", help="show what would be sent; send nothing")
    ap.add_argument("--message", default=None, help="text of the test message")
    ap.add_argument("--json", action="store_true", help="print the outcome as JSON")
    args = ap.parse_args(argv)
    home = Home.resolve(args.home)
    kw = {"message": args.message} if args.message else {}
    out = send_test_alert(home, channel=args.channel, dry_run=args.dry_run, **kw)
    if args.json:
        print(scrub(json.dumps(out, indent=2, default=str, ensure_ascii=False)))
    elif out["dry_run"]:
        print(f"DRY RUN — would send via {', '.join(out['channels'])} "
              f"(Telegram API {out['telegram_api_base']}):\n---\n{out['would_send']}\n---")
        if not out["ok"]:
            print(f"NOT READY — {out['error']}", file=sys.stderr)
    elif out["ok"]:
        a = out["alert"]
        tries = f" (Telegram attempts: {a['attempts']})" if "telegram" in a["channels"] else ""
        print(f"OK — test alert {a['alert_id']} delivered via {', '.join(a['channels'])}{tries}")
    else:
        where = out.get("alert", {}).get("alert_id")
        print(scrub(f"FAILED — {out['error']}" + (f" (alert {where} recorded; undelivered part waits in the outbox)"
                                                   if where else "")), file=sys.stderr)
    if out["ok"]:
        return 0
    return 1 if out.get("alert") else 2


if __name__ == "__main__":
    sys.exit(main())
