"""Where keys live: private keys in their owner's config folder, public keys registered in the store.

A private key never enters the store: ``keys new`` writes it, passphrase-protected (PKCS#8), into the
person's own user config folder with mode 0600. The administrator registers the public key; a
registration or revocation is a new row, never an edit, so the key history itself can be audited.
A public-key file (``keys export``) lets anyone verify reports without the store.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import Fault, InputError, display_path
from .files import atomic_write
from .signing import ED25519, KeyRecord, SigningKey, b64, beijing_today, demo_key, raw_public, unb64
from .store import Store, StoreError

KEY_FILE_FORMAT = "rubric-kernel-public-keys"
PASSPHRASE_ENV = "RUBRIC_KERNEL_KEY_PASSPHRASE"
DEMO_ACTOR = "演示数据（自动登记演示密钥）"


class KeyRefused(StoreError):
    """A key operation refused (Chinese message); nothing was written."""


# private keys, in the owner's config folder -------------------------------------------------------
def key_dir() -> Path:
    """The person's own config folder for keys (XDG on Linux), never the shared working folder."""
    from platformdirs import user_config_path

    return user_config_path("rubric-kernel") / "keys"


def private_path(login: str) -> Path:
    return key_dir() / f"{login}.pem"


def public_pem(public: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return (
        Ed25519PublicKey.from_public_bytes(public)
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def new_private(login: str, passphrase: str, *, force: bool = False) -> tuple[SigningKey, Path]:
    """A fresh key pair; the private half written encrypted to the owner's folder (0600), the public beside it."""
    if not passphrase:
        raise KeyRefused("口令不能为空：私钥必须用口令加密保存")
    path = private_path(login)
    if path.exists() and not force:
        raise KeyRefused(f"{display_path(path)} 已有 {login} 的私钥；确需换新密钥请加 --force，并请管理员吊销旧公钥")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, PrivateFormat

    key = SigningKey(login, Ed25519PrivateKey.generate())
    pem = key.private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase.encode()))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(path.with_suffix(".tmp"), path)
    atomic_write(path.with_name(f"{login}.pub.pem"), public_pem(key.public))
    return key, path


def load_private(login: str, passphrase: str, path: Path | None = None) -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    path = path or private_path(login)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyRefused(
            f"找不到 {login} 的私钥 {display_path(path)}：请先运行 rubric-kernel keys new --login {login}"
        ) from None
    try:
        private = load_pem_private_key(data, passphrase.encode() if passphrase else None)
    except (ValueError, TypeError):
        raise KeyRefused(f"无法打开私钥 {display_path(path)}：口令不对或文件已损坏") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyRefused(f"私钥 {display_path(path)} 不是 Ed25519 密钥")
    return SigningKey(login, private)


def issuer_key(login: str, synthetic: bool) -> SigningKey | None:
    """The issuing role's key for sealing reports: their own (passphrase from the environment, a batch
    cannot ask), else on demo data their demo key; None when neither is at hand (the report goes unsealed)."""
    if private_path(login).exists():
        passphrase = os.environ.get(PASSPHRASE_ENV)
        if passphrase is None:
            raise KeyRefused(f"签章需要 {login} 的私钥口令：请设置环境变量 {PASSPHRASE_ENV}")
        return load_private(login, passphrase)
    return demo_key(login) if synthetic else None


def prepare_seal(store: Store, issuer: str, synthetic: bool) -> None:
    """Before reports are sealed: on demo data without the issuer's own key, register the issuer's demo key."""
    if synthetic and not private_path(issuer).exists():
        ensure_demo(store, issuer, beijing_today())


def read_public(path: Path) -> bytes:
    """A public key file (PEM, as ``keys new`` writes it) as raw Ed25519 bytes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    where = display_path(path)
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise InputError([Fault(where, f"无法读取：{exc.strerror}")]) from None
    except ValueError:
        raise InputError(
            [Fault(where, "不是 PEM 格式的公钥文件（应为 rubric-kernel keys new 生成的 .pub.pem）")]
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError([Fault(where, "不是 Ed25519 公钥")])
    return raw_public(key)


# public keys, registered in the store -------------------------------------------------------------
def registered(store: Store) -> list[KeyRecord]:
    """Every registered key with its revocation date (the earliest recorded), in registration order."""
    rows = store.query_dicts("SELECT * FROM rk_keys ORDER BY id")
    found: dict[str, KeyRecord] = {}
    for r in rows:
        day = dt.date.fromisoformat(r["effective"])
        if r["action"] == "register" and r["fingerprint"] not in found:
            found[r["fingerprint"]] = KeyRecord(r["login"], r["algorithm"], unb64(r["public_key"]), day)
        elif r["action"] == "revoke" and r["fingerprint"] in found:
            k = found[r["fingerprint"]]
            if k.revoked is None or day < k.revoked:
                found[r["fingerprint"]] = KeyRecord(k.login, k.algorithm, k.public, k.registered, day)
    return list(found.values())


def _append(store: Store, login: str, action: str, k: KeyRecord, effective: dt.date, actor: str, note: str) -> None:
    from sqlalchemy import insert

    from .tables import keys

    with store._writer.begin() as conn:
        conn.execute(
            insert(keys).values(
                login=login,
                action=action,
                algorithm=k.algorithm,
                fingerprint=k.fingerprint,
                public_key=b64(k.public),
                effective=effective.isoformat(),
                actor=actor,
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                note=note,
            )
        )


def register(store: Store, login: str, public: bytes, *, effective: dt.date, actor: str, note: str = "") -> KeyRecord:
    """Register a public key for a login; a key registered before (to anyone) is refused."""
    if not login.strip():
        raise KeyRefused("登记公钥须写明使用人")
    record = KeyRecord(login, ED25519, public, effective)
    for k in registered(store):
        if k.fingerprint == record.fingerprint:
            raise KeyRefused(f"公钥 {k.label} 已于 {k.registered.isoformat()} 登记在 {k.login} 名下")
    _append(store, login, "register", record, effective, actor, note)
    return record


def revoke(store: Store, login: str, *, effective: dt.date, actor: str, key: str = "") -> list[KeyRecord]:
    """Revoke the login's keys in force (or the one whose fingerprint starts with ``key``) from that date on."""
    targets = [k for k in registered(store) if k.login == login and k.revoked is None and k.fingerprint.startswith(key)]
    if not targets:
        raise KeyRefused(f"{login} 名下没有未吊销的公钥{('（指纹 ' + key + '）') if key else ''}")
    for k in targets:
        _append(store, login, "revoke", k, effective, actor, "吊销")
    return [KeyRecord(k.login, k.algorithm, k.public, k.registered, effective) for k in targets]


def ensure_demo(store: Store, login: str | Iterable[str], today: dt.date) -> None:
    """On demo data, signers without a key get their demo keys registered, so the demo needs no setup
    (the registered keys are read once, however many logins)."""
    logins = [login] if isinstance(login, str) else list(login)
    keyed = {k.login for k in registered(store)}
    for who in logins:
        if who not in keyed:
            register(store, who, demo_key(who).public, effective=today, actor=DEMO_ACTOR, note="演示密钥")


# a public-key file, for verifying without the store -----------------------------------------------
def export_keys(records: Sequence[KeyRecord]) -> str:
    return json.dumps(
        {
            "format": KEY_FILE_FORMAT,
            "keys": [
                {
                    "login": k.login,
                    "algorithm": k.algorithm,
                    "public_key": b64(k.public),
                    "fingerprint": k.fingerprint,
                    "registered": k.registered.isoformat(),
                    "revoked": k.revoked.isoformat() if k.revoked else None,
                    "demo": k.demo,
                }
                for k in records
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def read_key_file(path: Path) -> list[KeyRecord]:
    where = display_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError([Fault(where, f"无法读取：{exc.strerror}")]) from None
    except ValueError:
        raise InputError([Fault(where, "不是有效的 JSON 公钥文件（应为 rubric-kernel keys export 生成）")]) from None
    if not isinstance(data, dict) or data.get("format") != KEY_FILE_FORMAT or not isinstance(data.get("keys"), list):
        raise InputError([Fault(where, "不是 rubric-kernel keys export 生成的公钥文件")])
    out, faults = [], []
    for i, k in enumerate(data["keys"], start=1):
        try:
            public = unb64(k["public_key"])
            record = KeyRecord(
                k["login"],
                k["algorithm"],
                public,
                dt.date.fromisoformat(k["registered"]),
                dt.date.fromisoformat(k["revoked"]) if k.get("revoked") else None,
            )
            if len(public) != 32 or record.fingerprint != k.get("fingerprint", record.fingerprint):
                raise ValueError
            out.append(record)
        except (KeyError, TypeError, ValueError):
            faults.append(Fault(f"{where} 第 {i} 个公钥", "内容不完整或已损坏"))
    if faults:
        raise InputError(faults)
    return out
