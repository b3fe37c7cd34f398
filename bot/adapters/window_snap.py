"""The stored window's look-up structures, kept between `poll --once` runs (a snapshot).

StoreWindow reads the whole window (100,000 rows at a busy store) and scans it for a batch's
headline features at every run: ~0.5 s of a cron run's CPU. A SnapWindow answers the same
questions (core/lazydedup.WindowView) from an inverted index of the window saved in the store
(table window_snapshot) by an earlier run, brought up to date with what changed since:

* the snapshot holds the window's items in warm-up order (ids, sort keys), each one's headline
  features (as numbers: a forward list) and each feature's items (an inverted list), the items'
  headline keys and a hash of their links, and for each item the last `since` at which the
  window holds it (ekey: see store_sql.WINDOW_KEYS);
* items that left the window since (ekey < since) are skipped, and their features discounted
  from each df; items stored after it (id > its last id: a few rows, by the primary key) are
  read and merged in warm-up order (by sort key and id);
* before it is used the snapshot is checked against the items: the number and the sum of the
  ids of the window's items up to its last id (one indexed count), and that last item's guid.
  Anything else (no snapshot, another format, damaged, a window that moved back, items deleted
  or changed, too much changed since) rebuilds it from a full read of the window (about the cost
  of one StoreWindow read and scan) and saves it for the next run.

The stored items themselves are decoded from the store when a decision needs them, as StoreWindow
does; roots (duplicate_of), summaries and timestamps are always the store's current ones.
"""
from __future__ import annotations

import json
import logging
import sys
import zlib
from array import array
from bisect import bisect_left
from collections import deque
from itertools import accumulate, chain, compress, repeat, starmap
from operator import and_, getitem, lshift, methodcaller, or_, rshift

from bot.adapters.store_sql import to_ts
from bot.adapters.window import StoreWindow, parse_rows
from bot.core.dedup import _count_elements

log = logging.getLogger("sokuho.window")

MAGIC = b"sokuho window snapshot 1\n"
_TS = 27                    # a stored timestamp's width (store_sql.to_ts)
# rebuilt when this much changed since it was made (items left + items added): merging more
# than that at every run costs more than rebuilding once
_STALE = 0.05
_STALE_MIN = 1000
_DECODE = 16                # the cost of decoding an item, in WindowView.want's units
# the parts of a snapshot after its header, in order, and their array type ("" = bytes)
_PARTS = (("off", "i"), ("inv", "i"), ("ids", "q"),
          ("sids", "q"), ("okeys", ""), ("by_e", "i"), ("ekeys", ""), ("kh", "Q"),
          ("kp", "i"), ("lh", "Q"))


def _link_hash(url: str) -> int:
    return zlib.crc32(url.encode("utf-8", "surrogatepass"))


def _key_prefix(key: bytes) -> int:
    return int.from_bytes(key[:8], "big")


class Snapshot:
    """The persisted structures (see the module's docstring). Positions are indexes in warm-up
    order at the time it was made."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    # --- making one ----------------------------------------------------------------------------

    @classmethod
    def build(cls, store, since) -> "Snapshot | None":
        """From a full read of the window; None when it cannot be read that way (a signature
        missing or unreadable, a timestamp not in the store's fixed-width form) or is empty."""
        post: dict[str, list[int]] = {}         # feature -> its positions, in order
        ids = array("q")
        okeys: list[str] = []
        ekeys: list[str] = []
        keyhex: list[str] = []
        links: list[str] = []
        chunks = store.window_sigs_keyed(since)
        try:
            for rows in chunks:
                parsed = parse_rows(rows)
                if parsed is None:
                    return None
                cids, curls, kk, titles = parsed
                full = [t for t in titles if t]
                if full:
                    # each feature's list gets each item holding it, in C: setdefault (a new
                    # empty list offered for each) gives the list, list.append adds the item
                    toks = " ".join(full).split(" ")
                    own = chain.from_iterable(map(repeat, range(len(ids), len(ids) + len(titles)),
                                                  [t.count(" ") + 1 if t else 0 for t in titles]))
                    deque(map(list.append, map(post.setdefault, toks,
                                               starmap(list, repeat((), len(toks)))), own),
                          maxlen=0)
                ids.extend(cids)
                okeys += [r[3] for r in rows]
                ekeys += [r[4] for r in rows]
                keyhex += kk
                links += curls
        finally:
            chunks.close()
        n = len(ids)
        if not n or None in okeys or None in ekeys or set(map(len, okeys)) != {_TS} \
                or set(map(len, ekeys)) != {_TS}:
            return None
        okt = "".join(okeys)
        del okeys
        by_e = array("i", sorted(range(n), key=ekeys.__getitem__))
        ekt = "".join(map(ekeys.__getitem__, by_e))
        del ekeys
        if not (okt.isascii() and ekt.isascii()):
            return None
        off = array("i", accumulate(map(len, post.values()), initial=0))
        inv = array("i", chain.from_iterable(post.values()))
        feats = list(post)
        del post
        # headline keys: the first 8 bytes (of a 16-byte digest) and the position, in one int
        keyed = sorted(map(or_, map(lshift, map(int, map(getitem, compress(keyhex, keyhex),
                                                           repeat(slice(0, 16))), repeat(16)),
                                    repeat(32)), compress(range(n), keyhex)))
        kh = array("Q", map(rshift, keyed, repeat(32)))
        kp = array("i", map(and_, keyed, repeat(0xFFFFFFFF)))
        del keyed, keyhex
        lh = array("Q", sorted(map(or_, map(lshift, map(zlib.crc32, map(
            methodcaller("encode", "utf-8", "surrogatepass"), compress(links, links))),
            repeat(32)), compress(range(n), links))))
        upto = max(ids)
        return cls(since=to_ts(since), upto=upto, guid=store.guid_of(upto), idsum=sum(ids), n=n,
                   feats=feats, off=off, inv=inv, ids=ids,
                   sids=array("q", sorted(ids)), okeys=okt.encode("ascii"), by_e=by_e,
                   ekeys=ekt.encode("ascii"), kh=kh, kp=kp, lh=lh)

    # --- kept in the store ---------------------------------------------------------------------

    def dumps(self) -> bytes:
        parts = [("\n".join(self.feats)).encode("utf-8", "surrogatepass")]
        for name, kind in _PARTS:
            v = getattr(self, name)
            parts.append(v if not kind else memoryview(v).cast("B"))
        adler = 1
        for p in parts:
            adler = zlib.adler32(p, adler)
        head = {"since": self.since, "upto": self.upto, "guid": self.guid, "idsum": self.idsum,
                "n": self.n, "nf": len(self.feats), "sizes": [len(p) for p in parts],
                "order": sys.byteorder, "adler": adler}
        # one copy of the arrays (the result), none in between
        return b"".join([MAGIC, json.dumps(head).encode(), b"\n", *parts])

    @classmethod
    def loads(cls, data: bytes | None) -> "Snapshot | None":
        """None for anything this version did not write, or that is damaged."""
        if not data or not data.startswith(MAGIC):
            return None
        try:
            nl = data.index(b"\n", len(MAGIC))
            head = json.loads(data[len(MAGIC):nl])
            body = memoryview(data)[nl + 1:]
            sizes = head["sizes"]
            if (head["order"] != sys.byteorder or len(sizes) != len(_PARTS) + 1
                    or sum(sizes) != len(body) or zlib.adler32(body) != head["adler"]):
                return None
            at = sizes[0]
            feats = str(body[:at], "utf-8", "surrogatepass").split("\n")
            kw = {}
            for (name, kind), size in zip(_PARTS, sizes[1:]):
                raw = body[at:at + size]
                at += size
                if kind:
                    a = array(kind)
                    a.frombytes(raw)
                    kw[name] = a
                else:
                    kw[name] = bytes(raw)
            n, nf = head["n"], head["nf"]
            if head["nf"] == 0:
                feats = []
            snap = cls(since=head["since"], upto=int(head["upto"]), guid=head["guid"],
                       idsum=int(head["idsum"]), n=n, feats=feats, **kw)
            if not (len(feats) == nf and len(snap.off) == nf + 1 and snap.off[0] == 0
                    and snap.off[-1] == len(snap.inv)
                    and len(snap.ids) == len(snap.sids) == len(snap.by_e) == n
                    and len(snap.okeys) == len(snap.ekeys) == _TS * n
                    and len(snap.kh) == len(snap.kp) and n > 0):
                return None
            return snap
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, OverflowError):
            return None


class SnapWindow(StoreWindow):
    """WindowView over a Snapshot brought up to date (open()); decoding as StoreWindow."""

    @classmethod
    def open(cls, store, since, now) -> "SnapWindow | None":
        """The window as of now from the stored snapshot, rebuilt (and saved) when there is none
        or it cannot be used. None when the window cannot be read this way (see Snapshot.build)
        or the store is read-only (a StoreWindow is cheaper than building one not kept)."""
        if store.readonly:
            return None
        try:
            snap = Snapshot.loads(store.window_snapshot())
        except Exception as e:          # e.g. a table not there: the plain read then
            log.warning("duplicate window snapshot: could not read it: %s", e)
            return None
        self = cls(store, since, now)
        why = self._attach(snap) if snap is not None else "none stored"
        self.rebuilt = why          # (why it was rebuilt: "" when the kept one served)
        if why:
            log.debug("duplicate window snapshot rebuilt (%s)", why)
            kept, snap = snap, Snapshot.build(store, since)
            if snap is None:
                if kept is not None:
                    store.save_window_snapshot(None)
                return None
            why = self._attach(snap)
            if why:                     # (changed while it was read: a plain read then)
                return None
            try:
                store.save_window_snapshot(snap.dumps())
            except Exception as e:      # derived data: rebuilt next time
                log.warning("duplicate window snapshot: could not save it: %s", e)
        return self

    def _attach(self, snap: Snapshot) -> str:
        """Bring `snap` up to the store's window now; "" when done, else why it cannot be."""
        since = to_ts(self.since)
        if since < snap.since:
            return "the window moved back"
        n, ekeys = snap.n, snap.ekeys
        sb = since.encode("ascii")
        gone = bisect_left(range(n), sb, key=lambda j: ekeys[_TS * j:_TS * j + _TS])
        dead = snap.by_e[:gone]
        ids = snap.ids
        rows = self.store.window_after(snap.upto, self.since)
        if gone + len(rows) > _STALE * n + _STALE_MIN:
            return f"{gone} items left the window and {len(rows)} came since it was made"
        members = (n - gone, snap.idsum - sum(map(ids.__getitem__, dead)))
        if self.store.window_upto(snap.upto, self.since) != members \
                or self.store.guid_of(snap.upto) != snap.guid:
            return "the stored items changed"
        delta = parse_rows(rows) if rows else ((), (), (), ())
        if delta is None or any(r[3] is None or len(r[3]) != _TS for r in rows):
            return "an item stored since it was made has no readable signature"
        dead_ids = set(map(ids.__getitem__, dead))
        # the features of the items that left the window: discounted from each df
        sigs = self.store.sigs_of(dead_ids) if dead_ids else {}
        lost: dict = {}
        if sigs:
            gone_sigs = parse_rows([(i, "", sig) for i, sig in sigs.items()])
            if len(sigs) != len(dead_ids) or gone_sigs is None:
                return "an item that left the window was deleted or changed"
            _count_elements(lost, " ".join(filter(None, gone_sigs[3])).split(" "))
        self._lost = lost
        self._snap = snap
        self._decoded = 0
        self._fmap = dict(zip(snap.feats, range(len(snap.feats))))
        self._dead = set(dead)
        self._dead_ids = dead_ids
        self._members = n - gone
        # the items stored since: in warm-up order
        d_ids, d_urls, d_keys, d_titles = delta
        self._d_ids = list(d_ids)
        self._d_idset = set(d_ids)
        self._d_key = [(r[3].encode("ascii"), r[0]) for r in rows]
        feat: dict = {}
        for j, t in enumerate(d_titles):
            if t:
                for x in t.split(" "):
                    feat.setdefault(x, []).append(j)
        self._d_feat = feat
        keyat: dict = {}
        for j, k in enumerate(d_keys):
            if k:
                keyat.setdefault(bytes.fromhex(k), []).append(j)
        self._d_keyat = keyat
        link: dict = {}
        for j, u in enumerate(d_urls):
            if u:
                link.setdefault(u, j)
        self._d_link = link
        return ""

    def _okey(self, p: int) -> tuple:
        snap = self._snap
        return snap.okeys[_TS * p:_TS * p + _TS], snap.ids[p]

    def __len__(self) -> int:
        return self._members + len(self._d_ids)

    # --- look-ups -------------------------------------------------------------------------------

    def want(self, terms, keys=()) -> int:
        """Nothing to scan: each feature is looked up in the inverted lists (cost 1 each). The
        cost returned also counts the items decoded since the last call, _DECODE each: the
        budget (LazyDeduper.scan_budget, 8 an item of the window) then switches to the full
        index when about half of the window has been decoded (a run bringing that many new
        items: indexing the rest costs less than looking them up one batch at a time)."""
        known, n = self._df, 0
        for x in terms:
            if x not in known:
                known[x] = self._count(x)
                n += 1
        n += _DECODE * self._decoded
        self._decoded = 0
        return n

    def _decode(self, rowids: list[int]) -> list:
        sigs = self._sigs
        self._decoded += sum(1 for i in rowids if i not in sigs)
        return super()._decode(rowids)

    def unknown(self, terms, keys=()) -> bool:
        known = self._df
        return any(x not in known for x in terms)

    def release(self) -> None:
        snap = self._snap
        snap.inv = snap.off = array("i")
        snap.feats, self._fmap, self._df, self._post = [], {}, {}, {}

    def _count(self, term: str) -> int:
        f = self._fmap.get(term)
        n = 0
        if f is not None:
            off = self._snap.off
            n = off[f + 1] - off[f] - self._lost.get(term, 0)
        d = self._d_feat.get(term)
        return n + len(d) if d else n

    def df(self, term: str) -> int:
        n = self._df.get(term)
        if n is None:
            n = self._df[term] = self._count(term)
        return n

    def postings(self, term: str, cap: int) -> list:
        out = self._post.get(term)
        if out is None:
            keys = []
            f = self._fmap.get(term)
            if f is not None:
                snap, dead = self._snap, self._dead
                inv, a, i = snap.inv, snap.off[f], snap.off[f + 1]
                while i > a and len(keys) < self.cap:
                    i -= 1
                    p = inv[i]
                    if p not in dead:
                        keys.append(self._okey(p))
            d = self._d_feat.get(term)
            if d:
                keys += [self._d_key[j] for j in d[-self.cap:]]
            keys.sort()
            out = self._post[term] = self._decode([i for _, i in keys[-self.cap:]])
            for sig in out:
                if term not in sig.title:
                    self._distrust(f"item {sig.id!r} is listed under {term!r}")
        return out[-cap:]

    def key_first(self, lang, key: bytes):
        k = (lang, key)
        if k in self._first:
            return self._first[k]
        snap, dead = self._snap, self._dead
        cands = []
        prefix = _key_prefix(key)
        kh, kp = snap.kh, snap.kp
        i = bisect_left(kh, prefix)
        while i < len(kh) and kh[i] == prefix:
            if kp[i] not in dead:
                cands.append(self._okey(kp[i]))
            i += 1
        cands += [self._d_key[j] for j in self._d_keyat.get(key, ())]
        cands.sort()
        found = None
        for _, rowid in cands:
            sig = self._decode([rowid])[0]
            if sig.key == key and sig.lang == lang:
                found = sig
                break
        self._first[k] = found
        return found

    def _has(self, rowid: int) -> bool:
        sids = self._snap.sids
        i = bisect_left(sids, rowid)
        if i < len(sids) and sids[i] == rowid:
            return rowid not in self._dead_ids
        return rowid in self._d_idset

    def url_root(self, url: str):
        h = _link_hash(url)
        lh, dead = self._snap.lh, self._dead
        i = bisect_left(lh, h << 32)
        best = None
        while i < len(lh) and lh[i] >> 32 == h:
            p = lh[i] & 0xFFFFFFFF
            if p not in dead:
                best = p
                break
            i += 1
        cand = None
        if best is not None:
            okey = self._okey(best)
            sig = self._decode([okey[1]])[0]
            if sig.url != url:          # another link with the same hash: ask the store
                first = [r for r in self.store.with_link(url, self.since) if self._has(r)]
                return self._decode(first[:1])[0].root if first else None
            cand = (okey, sig)
        j = self._d_link.get(url)
        if j is not None and (cand is None or self._d_key[j] < cand[0]):
            cand = (self._d_key[j], self._decode([self._d_ids[j]])[0])
        return cand[1].root if cand is not None else None

    def _all_ids(self) -> list[int]:
        dead = self._dead
        keys = [self._okey(p) for p in range(self._snap.n) if p not in dead] + self._d_key
        keys.sort()
        return [i for _, i in keys]

    def _distrust(self, why: str) -> None:
        """A decoded item contradicts the snapshot (it cannot, unless the store was changed
        behind the checks): dropped, so the next run rebuilds it."""
        log.warning("duplicate window snapshot dropped: %s", why)
        try:
            self.store.save_window_snapshot(None)
        except Exception:
            pass
