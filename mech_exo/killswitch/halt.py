"""The pre-allocated halt file: a halt that lands when ``killswitch.yml`` cannot be rewritten.

Why: the normal write (temp file, fsync, rename) needs free blocks. On a full filesystem it fails
with ENOSPC and, without this file, trading would stay ENABLED exactly when something is wrong.

``config/killswitch.halt`` (next to the yml; ``<stem>.halt`` for any other path) has a fixed size
(:data:`HALT_SIZE` bytes, really written, never sparse). It is created while there is space (by
``ensure_halt_file``: every kill-switch write, ``exo init`` when wired) and afterwards only ever
*rewritten in place* with one ``pwrite`` of the same size at offset 0 + ``fsync`` — no new blocks are
needed, so the write works on a full disk (not on copy-on-write filesystems such as btrfs/zfs: see
docs/KILLSWITCH.md).

Content: a magic line, one JSON line (``state`` CLEAR or HALT, ``halts``: the halt records not yet
folded into the yml) and its SHA-256, padded with spaces. Semantics (the reader, fail closed):

* missing or CLEAR → no override: ``killswitch.yml`` decides;
* HALT → trading DISABLED whatever the yml says (who/why/when from the halt records);
* anything else (bad magic, bad checksum — e.g. a torn read during a rewrite — bad JSON, unknown
  state, unreadable) → trading DISABLED, naming this file.

The halt file can only ever *disable*: CLEAR means "no override", never "enabled". It is set back to
CLEAR only by a kill-switch write that has first put its halt records into the yml's history (so the
yml then says disabled, or an approved enable that saw those halts).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HALT_SIZE = 8192
MAGIC = ("# mech-exo kill-switch halt file v1: fixed size, rewritten in place; HALT wins over "
         "killswitch.yml. Do not edit or delete (docs/KILLSWITCH.md).")
STATES = ("CLEAR", "HALT")
_REQUIRED = ("id", "at", "reason", "trigger", "by")


@dataclass
class HaltFile:
    path: Path
    status: str                      # missing | clear | halt | corrupt
    halts: list[dict] = field(default_factory=list)
    error: str | None = None


def halt_path(yml: Path) -> Path:
    """``config/killswitch.yml`` → ``config/killswitch.halt`` (a drill's dry-run copy gets its own)."""
    yml = Path(yml)
    return yml.with_name(yml.stem + ".halt")


# --- encoding -------------------------------------------------------------------------------------

def _body(state: str, halts: list[dict]) -> str:
    return json.dumps({"v": 1, "state": state, "halts": halts}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, default=str)


def _image(state: str, halts: list[dict]) -> bytes:
    """The whole file, exactly HALT_SIZE bytes, or ValueError when the records cannot fit."""
    body = _body(state, halts)
    head = f"{MAGIC}\n{body}\nsha256 {hashlib.sha256(body.encode('ascii')).hexdigest()}\n"
    if len(head) + 1 > HALT_SIZE:
        raise ValueError(f"halt records need {len(head)} bytes, the halt file holds {HALT_SIZE}")
    return (head + " " * (HALT_SIZE - len(head) - 1) + "\n").encode("ascii")


def _shorten(text: object, n: int) -> str:
    s = str(text)
    return s if len(s) <= n else s[: n - 14] + " …[truncated]"


def fit(halts: list[dict]) -> tuple[bytes, list[dict], str | None]:
    """Encode ``halts`` so they fit, shortening reasons and then keeping only the newest halt of each
    trigger (so the approval policy still sees every trigger). Returns (image, kept halts, note)."""
    try:
        return _image("HALT", halts), halts, None
    except ValueError:
        pass
    for n in (400, 160, 60):
        short = [{**h, "reason": _shorten(h.get("reason"), n), "write_error": _shorten(h.get("write_error"), n)}
                 for h in halts]
        try:
            return _image("HALT", short), short, f"reasons shortened to {n} characters to fit the halt file"
        except ValueError:
            continue
    newest: dict[str, dict] = {}
    for h in short:
        newest[str(h.get("trigger"))] = h
    kept = sorted(newest.values(), key=lambda h: str(h.get("at")))
    dropped = len(halts) - len(kept)
    return _image("HALT", kept), kept, f"{dropped} older halt record(s) dropped (the newest of each trigger kept)"


# --- reading --------------------------------------------------------------------------------------

def read(path: Path) -> HaltFile:
    """Parse the halt file; never raises. Anything but a valid CLEAR/HALT image is ``corrupt``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return HaltFile(path, "missing")
    except OSError as exc:
        return HaltFile(path, "corrupt", error=f"{path}: cannot read ({exc.__class__.__name__}: {exc})")

    def bad(why: str) -> HaltFile:
        return HaltFile(path, "corrupt", error=f"{path}: {why}")

    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        return bad(f"not an ASCII halt file (byte {exc.start})")
    lines = text.split("\n")
    if len(lines) < 3 or lines[0] != MAGIC:
        return bad("line 1 is not the halt-file header")
    if not lines[2].startswith("sha256 "):
        return bad("line 3 must be the sha256 of line 2")
    if hashlib.sha256(lines[1].encode("ascii")).hexdigest() != lines[2][7:].strip():
        return bad("line 2 does not match its sha256 (torn or edited)")
    try:
        data = json.loads(lines[1])
    except json.JSONDecodeError as exc:
        return bad(f"line 2 is not valid JSON ({exc.msg})")
    if not isinstance(data, dict) or data.get("state") not in STATES or not isinstance(data.get("halts"), list):
        return bad("line 2 must hold state CLEAR|HALT and a list of halts")
    halts = data["halts"]
    if data["state"] == "CLEAR":
        if halts:
            return bad("state CLEAR with halt records")
        return HaltFile(path, "clear")
    if not halts:
        return bad("state HALT without a halt record")
    for i, h in enumerate(halts, start=1):
        if not isinstance(h, dict) or any(not isinstance(h.get(k), str) for k in _REQUIRED):
            return bad(f"halt record {i} must have {', '.join(_REQUIRED)}")
    return HaltFile(path, "halt", halts=[dict(h) for h in halts])


# --- writing --------------------------------------------------------------------------------------

def ensure(path: Path) -> bool:
    """Create a CLEAR halt file (really written, fsynced) if none exists; True when created.

    Created as a temp file then hard-linked into place, so it appears complete or not at all and a
    concurrent creator (or an existing HALT file) is never overwritten. Raises OSError (e.g. ENOSPC).
    """
    path = Path(path)
    if path.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_image("CLEAR", []))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
            created = True
        except FileExistsError:
            created = False
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return created


def _write_in_place(path: Path, image: bytes) -> None:
    """One pwrite of the whole image over the existing blocks, then fsync. Never creates/truncates."""
    fd = os.open(path, os.O_WRONLY)
    try:
        n = os.pwrite(fd, image, 0)
        if n != len(image):
            raise OSError(f"{path}: short write ({n} of {len(image)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


def write_halt(path: Path, halts: list[dict]) -> tuple[list[dict], str | None]:
    """Rewrite the halt file in place as HALT with ``halts``; returns (records kept, note)."""
    image, kept, note = fit(halts)
    _write_in_place(Path(path), image)
    return kept, note


def write_clear(path: Path) -> None:
    _write_in_place(Path(path), _image("CLEAR", []))
