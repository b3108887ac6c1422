"""A ticketing integration, in a few lines: preview a purge through chatsweep's API, execute it,
wait for it to end and print the result.

    CHATSWEEP_URL=http://127.0.0.1:8000 CHATSWEEP_TOKEN=cs_... \
        python docs/examples/api_client.py --conversation g-launch --reason "spam wave" --ticket T-12

The token comes from the "API tokens" page; it acts with its owner's roles (a moderator deletes a
conversation's messages; above PURGE_APPROVAL_THRESHOLD a second person approves, and this script
waits for that too). Errors come back as JSON: {"detail", "code", "errors": [{"field", "message"}]}.
Needs `requests` (pip install requests).
"""

import argparse
import os
import sys
import time

import requests

FINAL = {"done", "failed", "rejected", "cancelled"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversation", required=True, help="the chat service's conversation id")
    parser.add_argument("--reason", required=True)
    parser.add_argument("--ticket", default="")
    parser.add_argument("--effect", default="delete_for_everyone")
    parser.add_argument("--yes", action="store_true", help="execute without asking")
    args = parser.parse_args()

    api = os.environ.get("CHATSWEEP_URL", "http://127.0.0.1:8000").rstrip("/") + "/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {os.environ['CHATSWEEP_TOKEN']}"

    response = session.post(f"{api}/purge-requests", json={
        "scope": {"kind": "conversation", "conversation": args.conversation}, "effect": args.effect,
        "reason": args.reason, "ticket": args.ticket, "external_ids": True,
    }, timeout=30)
    if response.status_code != 201:
        sys.exit(f"Refused ({response.status_code}): {response.json()['detail']}")
    purge = response.json()
    counts = {key: value for key, value in purge["preview"].items() if isinstance(value, int) and value}
    print(f"Purge #{purge['id']} previewed: {purge['target']}: {counts}")
    # The same typed confirmation as on the web (large or irreversible requests): --yes types the count.
    confirm = purge["confirmation"]
    typed = ""
    if confirm["typed"]:
        typed = str(confirm["count"]) if args.yes else input(confirm["prompt"] + " ").strip()
    elif not args.yes and input("Execute it? [y/N] ").strip().lower() != "y":
        sys.exit("Left as previewed: nothing was deleted.")

    response = session.post(f"{api}/purge-requests/{purge['id']}/execute", json={"confirmation": typed}, timeout=60)
    if response.status_code != 200:
        sys.exit(f"Not run ({response.status_code}): {response.json()['detail']} Left as previewed: nothing was deleted.")
    purge = response.json()
    while purge["state"] not in FINAL:
        note = " (waiting for a second person to approve)" if purge["state"] == "awaiting_approval" else ""
        print(f"  {purge['state']}{note}: {purge['processed_messages']:,} of {purge['total_messages']:,} messages")
        time.sleep(2)
        purge = session.get(f"{api}/purge-requests/{purge['id']}", timeout=30).json()

    print(f"Purge #{purge['id']} {purge['state']}.")
    if purge["result"]:
        for key, value in purge["result"].items():
            if isinstance(value, int) and (value or purge["preview"].get(key)):
                print(f"  {key}: {value:,} (previewed {purge['preview'].get(key, 0):,})")
    if purge["error"] or purge["rejection_reason"]:
        print(f"  {purge['error'] or purge['rejection_reason']}")
    sys.exit(0 if purge["state"] == "done" else 1)


if __name__ == "__main__":
    main()
