"""Keyed signatures: Ed25519 over canonical content, checked against the registered public keys.

Pure: keys and records come in as values, nothing is read or written here. Every signature records
its algorithm, so a national algorithm (SM2 with SM3) can be added to ``ALGORITHMS`` later without
migrating the signatures made before. Demo keys are derived from a fixed, published seed: anyone can
make them, so they prove nothing and are marked 演示密钥 wherever they show; a signature by one on
real (non-synthetic) data is invalid.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .records import Event
from .sheet_codec import canonical

if TYPE_CHECKING:  # cryptography is imported where keys are made or checked: most commands never do
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = "ed25519"
ALGORITHMS = (ED25519,)
DEMO_MARK = "演示密钥"
DEMO_SEED_LABEL = "rubric-kernel 演示密钥 v1（公开种子，不得用于真实评估）:"
BEIJING = dt.timezone(dt.timedelta(hours=8))
SIGNED_FIELDS = (
    "dataset",
    "institution",
    "stage",
    "sheet",
    "sheet_digest",
    "rubric_id",
    "rubric_digest",
    "at",
    "signer",
)


def raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public: bytes) -> str:
    """SHA-256 of the raw public key, hex: how a signature names its key."""
    return hashlib.sha256(public).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class SigningKey:
    """A private key in the hands of its owner, ready to sign as ``login``."""

    login: str
    private: Ed25519PrivateKey
    demo: bool = False
    algorithm: str = ED25519

    @property
    def public(self) -> bytes:
        return raw_public(self.private.public_key())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, content: Mapping) -> str:
        return b64(self.private.sign(canonical(dict(content)).encode("utf-8")))


def demo_key(login: str) -> SigningKey:
    """The deterministic demo key of a login: the same on every machine, so the demo needs no setup."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = hashlib.sha256((DEMO_SEED_LABEL + login).encode("utf-8")).digest()
    return SigningKey(login, Ed25519PrivateKey.from_private_bytes(seed), demo=True)


def is_demo_public(login: str, public: bytes) -> bool:
    return demo_key(login).public == public


@dataclass(frozen=True)
class KeyRecord:
    """A registered public key: whose, since when, revoked from when (that day on, signatures are void)."""

    login: str
    algorithm: str
    public: bytes
    registered: dt.date
    revoked: dt.date | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    @property
    def demo(self) -> bool:
        return is_demo_public(self.login, self.public)

    @property
    def label(self) -> str:
        return f"{self.fingerprint[:16]}{'（' + DEMO_MARK + '）' if self.demo else ''}"

    def validity_problem(self, day: dt.date) -> str:
        """Why the key could not sign on ``day`` ("" when it could)."""
        if day < self.registered:
            return f"签名所用密钥 {self.label} 于 {self.registered.isoformat()} 才登记，签名日期 {day.isoformat()} 早于登记"
        if self.revoked is not None and day >= self.revoked:
            return (
                f"签名所用密钥 {self.label} 已于 {self.revoked.isoformat()} 吊销，签名日期 {day.isoformat()} 在吊销之后"
            )
        return ""


def verify_bytes(algorithm: str, public: bytes, message: bytes, signature: str) -> bool:
    if algorithm != ED25519:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(unb64(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_content(key: KeyRecord, content: Mapping, signature: str) -> bool:
    return verify_bytes(key.algorithm, key.public, canonical(dict(content)).encode("utf-8"), signature)


def beijing_date(stamp: str) -> dt.date:
    """The Beijing calendar day of an ISO timestamp (UTC when it names no zone)."""
    moment = dt.datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BEIJING).date()


def beijing_today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


def find_key(keys: Sequence[KeyRecord], login: str, key_fingerprint: str) -> tuple[KeyRecord | None, str]:
    """The registered key a signature names, or None and why it cannot be used."""
    for k in keys:
        if k.fingerprint == key_fingerprint:
            if k.login != login:
                return None, f"签名所用密钥 {key_fingerprint[:16]} 登记在 {k.login} 名下，不是 {login} 的密钥"
            return k, ""
    return None, f"{login} 名下没有登记指纹为 {key_fingerprint[:16]} 的公钥"


def sheet_content(
    *,
    dataset: str,
    institution: int,
    stage: str,
    sheet: str,
    sheet_digest: str,
    rubric_id: str,
    rubric_digest: str,
    at: str,
    signer: str,
    signer_name: str | None = None,
) -> dict:
    """What a sheet signature covers, as one canonical object: ``signer`` is the login the key is
    registered to, ``signer_name`` the name the group and the sheet know the expert by."""
    return {
        "type": "rk-sheet-signature",
        "dataset": dataset,
        "institution": institution,
        "stage": stage,
        "sheet": sheet,
        "sheet_digest": sheet_digest,
        "rubric_id": rubric_id,
        "rubric_digest": rubric_digest,
        "at": at,
        "signer": signer,
        "signer_name": signer if signer_name is None else signer_name,
    }


def signature_payload(key: SigningKey, content: Mapping) -> dict:
    """The event payload of a signature: the signed content whole, its algorithm, key and signature."""
    return {
        "expert": content.get("signer_name", content["signer"]),
        "digest": content["sheet_digest"],
        "signed": dict(content),
        "algorithm": key.algorithm,
        "key": key.fingerprint,
        "signature": key.sign(content),
    }


@dataclass(frozen=True)
class SignedRow:
    """The stored context of a signature event: where it sits, by whom, under which rubric, when."""

    dataset: str
    institution: int
    actor: str
    created_at: str
    rubric_id: str | None
    rubric_digest: str | None
    payload: Mapping
    synthetic: bool


def signed_row(event: Event, synthetic: bool) -> SignedRow:
    rubric = event.rubric
    return SignedRow(
        event.dataset,
        event.institution,
        event.login or event.actor,  # the login behind the act (r0004); before it, the actor's name
        event.created_at,
        rubric.id if rubric else None,
        rubric.digest if rubric else None,
        event.payload,
        synthetic,
    )


def signature_problems(row: SignedRow, keys: Sequence[KeyRecord]) -> list[str]:
    """Every reason the signature is not valid (empty: valid), each a Chinese phrase naming why."""
    p = row.payload
    if "signature" not in p:
        return ["未用登记的密钥签名（旧式无密钥签字），无法证明签字人"]
    signed = p.get("signed")
    if not isinstance(signed, dict) or any(f not in signed for f in SIGNED_FIELDS):
        return ["签名记录不完整，缺少所签内容"]
    algorithm = p.get("algorithm")
    if algorithm not in ALGORITHMS:
        return [f"签名算法“{algorithm}”不受本程序支持"]
    key, why = find_key(keys, str(signed["signer"]), str(p.get("key", "")))
    if key is None:
        return [why]
    if not verify_content(key, signed, str(p["signature"])):
        return ["签名与所签内容不符：签字记录在签名后被改写（如重新计算了摘要）"]
    problems = []
    if (signed["dataset"], signed["institution"]) != (row.dataset, row.institution):
        problems.append(
            f"该签名签的是数据集 {signed['dataset']} 机构 {signed['institution']} 的评分表，"
            f"却出现在数据集 {row.dataset} 机构 {row.institution}：签名被复制到其他评分表"
        )
    if signed["signer"] != row.actor or p.get("expert") != signed.get("signer_name", signed["signer"]):
        problems.append(f"签名人 {signed['signer']} 与记录的签字专家 {p.get('expert')}（操作人 {row.actor}）不符")
    if p.get("digest") != signed["sheet_digest"]:
        problems.append("记录的评分表摘要与签名所签摘要不符：签字记录被改写")
    if (signed["rubric_id"], signed["rubric_digest"]) != (row.rubric_id, row.rubric_digest):
        problems.append(f"签名所签的指标体系（{signed['rubric_id']}）与记录的指标体系（{row.rubric_id}）不符")
    if signed["at"] != row.created_at:
        problems.append(f"签名时间 {signed['at']} 与记录时间 {row.created_at} 不符")
    validity = key.validity_problem(beijing_date(str(signed["at"])))
    if validity:
        problems.append(validity)
    if key.demo and not row.synthetic:
        problems.append(f"{DEMO_MARK}只能用于演示数据，不能签署真实评估")
    return problems
