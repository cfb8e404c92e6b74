from datetime import datetime, timezone


def now_iso() -> str:
    """UTC now as the ledger stores times: 2026-11-25T18:00:00.123456Z (sorts as text)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
