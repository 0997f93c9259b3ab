"""Garbage collection by reference, never by object age.

Releases are retained by count (the newest N) and age (younger than the maximum age); the
current release always is. An object is deleted only when no retained release and no publish
in progress (a lease) references it: an asset unchanged for months but still used stays.

A collection holds ``gc.lock`` while it plans and deletes. A publish writes its lease first,
then waits while the lock is held: a collection either sees the lease or finished before the
publish looked at what the store has, so it never deletes what a publish just referenced.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .backend import StoreBackend, StoreError, StoreMissing
from .layout import (
    CURRENT,
    FILES,
    GC_LOCK,
    LEASES,
    RELEASES,
    ReleaseRecord,
    now_iso,
    parse_time,
)

LEASE_LIFETIME = timedelta(hours=24)  # a publish that died longer ago than this protects nothing
LOCK_LIFETIME = timedelta(minutes=10)


@dataclass
class CollectPlan:
    kept: list[str]  # release ids, oldest first
    dropped: list[str]
    delete: list[str]  # object keys
    leased: int  # objects kept only because a publish in progress references them
    stale_leases: list[str]


def load_releases(
    store: StoreBackend, known: dict[tuple[str, int], ReleaseRecord] | None = None
) -> list[ReleaseRecord]:
    """Every release record in the store, oldest published first.

    ``known`` caches records by (key, size) between calls: a server re-reading the store only
    fetches the records that are new or were rewritten (a republish)."""
    records = []
    seen: dict[tuple[str, int], ReleaseRecord] = {}
    for info in store.list(RELEASES):
        if not info.key.endswith(".json"):
            continue
        cached = known.get((info.key, info.size)) if known is not None else None
        if cached is not None:
            records.append(cached)
            seen[(info.key, info.size)] = cached
            continue
        try:
            raw = store.get(info.key)
        except StoreMissing:
            continue  # dropped by a collection meanwhile
        try:
            record = ReleaseRecord.parse(raw, origin=f"{store.url}/{info.key}")
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        records.append(record)
        seen[(info.key, len(raw))] = record
    if known is not None:
        known.clear()
        known.update(seen)
    return sorted(records, key=lambda r: (parse_time(r.published_at), r.id))


def current_release(store: StoreBackend) -> str | None:
    try:
        return str(json.loads(store.get(CURRENT))["release"])
    except StoreMissing:
        return None
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{store.url}/{CURRENT} is unreadable; republish to rewrite it") from None


def plan_collect(
    store: StoreBackend, keep: int, max_age: timedelta, now: datetime | None = None
) -> CollectPlan:
    if keep < 1:
        raise StoreError("--keep must be at least 1 (the current release is always kept)")
    now = now or datetime.now(UTC)
    records = load_releases(store)
    current = current_release(store)
    newest = {r.id for r in records[-keep:]}
    kept: list[ReleaseRecord] = []
    dropped: list[ReleaseRecord] = []
    for record in records:
        young = now - parse_time(record.published_at) <= max_age
        (kept if record.id in newest or young or record.id == current else dropped).append(record)
    referenced = {name for record in kept for name in record.objects}
    leased: set[str] = set()
    stale_leases = []
    for info in store.list(LEASES):
        try:
            lease = json.loads(store.get(info.key))
            started = parse_time(str(lease["started"]))
            names = {str(n) for n in lease["objects"]}
        except StoreMissing:
            continue  # the publish finished meanwhile: its release record is read below
        except (ValueError, KeyError, TypeError):
            started, names = datetime.fromtimestamp(0, UTC), set()
        if now - started > LEASE_LIFETIME:
            stale_leases.append(info.key)
        else:
            leased |= names
    # A publish that finished after the records were read: its record names what it uses.
    for record in load_releases(store):
        if record.id not in {r.id for r in records}:
            referenced.update(record.objects)
    delete = []
    for info in store.list(FILES):
        name = info.key[len(FILES) :]
        if name not in referenced and name not in leased:
            delete.append(info.key)
    return CollectPlan(
        [r.id for r in kept],
        [r.id for r in dropped],
        sorted(delete),
        len(leased - referenced),
        stale_leases,
    )


def collect(
    store: StoreBackend, keep: int, max_age: timedelta, dry_run: bool = False
) -> CollectPlan:
    """Plan, and unless ``dry_run`` delete: dropped release records first (no server treats
    them as retained any more), then their unreferenced objects, then stale leases."""
    if dry_run:
        return plan_collect(store, keep, max_age)
    _acquire_lock(store)
    try:
        plan = plan_collect(store, keep, max_age)
        for release_id in plan.dropped:
            store.delete(f"{RELEASES}{release_id}.json")
        for key in plan.delete:
            store.delete(key)
        for key in plan.stale_leases:
            store.delete(key)
        return plan
    finally:
        store.delete(GC_LOCK)


def _acquire_lock(store: StoreBackend) -> None:
    now = datetime.now(UTC)
    lock = json.dumps(
        {"pid": os.getpid(), "started": now_iso(), "expires": (now + LOCK_LIFETIME).isoformat()}
    ).encode()
    if store.put_if_absent(GC_LOCK, lock):
        return
    try:
        held = json.loads(store.get(GC_LOCK))
        expires = parse_time(str(held["expires"]))
    except StoreMissing:
        expires = now  # released meanwhile
    except (ValueError, KeyError, TypeError):
        raise StoreError(
            f"{store.url}/{GC_LOCK} is unreadable: if no prune is running, delete it"
        ) from None
    if expires > now:
        raise StoreError(
            f"another prune is running on {store.url} (lock until {expires.isoformat(timespec='seconds')})"
        )
    store.delete(GC_LOCK)  # a collection that died: its lock has expired
    if not store.put_if_absent(GC_LOCK, lock):
        raise StoreError(f"another prune is running on {store.url}")
