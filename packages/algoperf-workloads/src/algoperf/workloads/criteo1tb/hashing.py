"""FarmHash Fingerprint64 in numpy: the hash behind TF's `tf.strings.to_hash_bucket_fast`.

The reference hashes each categorical value as `to_hash_bucket_fast(value + str(column), n)`,
which is `Fingerprint64(bytes) % n` (farmhash's `farmhashna::Hash64`). Criteo values are 8 hex
characters, so with the column index the hashed strings are 9 or 10 bytes long: farmhash's
8-to-16-byte branch. `fingerprint64_suffixed` computes that branch for whole columns at once;
`fingerprint64_many` covers any byte strings (vectorised up to 16 bytes) and `fingerprint64`
is the scalar version of every branch, for the rare long strings. It is written here rather
than taken from `pyfarmhash` (which the tests check it against) because that package ships
wheels only for x86-64 Linux; elsewhere it needs a C++ toolchain to install.

References:
    Google's FarmHash, `farmhashna::Hash64` (https://github.com/google/farmhash).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_MASK = (1 << 64) - 1
K0 = 0xC3A5C85C97CB3127
K1 = 0xB492B66FBE98F273
K2 = 0x9AE16A3B2F90404F
_SEED = 81
_U64 = np.uint64


# ---------------------------------------------------------------- scalar (every length)


def _rot(value: int, shift: int) -> int:
    """Rotate a 64-bit value right by `shift` bits (farmhash's `Rotate`)."""
    return ((value >> shift) | (value << (64 - shift))) & _MASK if shift else value


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


def _fetch64(s: bytes, i: int) -> int:
    return int.from_bytes(s[i : i + 8], "little")


def _fetch32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i : i + 4], "little")


def _hash_len16(u: int, v: int, mul: int) -> int:
    a = ((u ^ v) * mul) & _MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK
    b ^= b >> 47
    return (b * mul) & _MASK


def _hash_len0to16(s: bytes) -> int:
    n = len(s)
    if n >= 8:
        mul = K2 + n * 2
        a = (_fetch64(s, 0) + K2) & _MASK
        b = _fetch64(s, n - 8)
        c = (_rot(b, 37) * mul + a) & _MASK
        d = ((_rot(a, 25) + b) * mul) & _MASK
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = K2 + n * 2
        return _hash_len16(n + (_fetch32(s, 0) << 3), _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * K2) ^ (z * K0)) & _MASK) * K2) & _MASK
    return K2


def _hash_len17to32(s: bytes) -> int:
    n = len(s)
    mul = K2 + n * 2
    a = (_fetch64(s, 0) * K1) & _MASK
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK
    d = (_fetch64(s, n - 16) * K2) & _MASK
    return _hash_len16(
        (_rot((a + b) & _MASK, 43) + _rot(c, 30) + d) & _MASK,
        (a + _rot((b + K2) & _MASK, 18) + c) & _MASK,
        mul,
    )


def _hash_len33to64(s: bytes) -> int:
    n = len(s)
    mul = K2 + n * 2
    a = (_fetch64(s, 0) * K2) & _MASK
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK
    d = (_fetch64(s, n - 16) * K2) & _MASK
    y = (_rot((a + b) & _MASK, 43) + _rot(c, 30) + d) & _MASK
    z = _hash_len16(y, (a + _rot((b + K2) & _MASK, 18) + c) & _MASK, mul)
    e = (_fetch64(s, 16) * mul) & _MASK
    f = _fetch64(s, 24)
    g = ((y + _fetch64(s, n - 32)) * mul) & _MASK
    h = ((z + _fetch64(s, n - 24)) * mul) & _MASK
    return _hash_len16(
        (_rot((e + f) & _MASK, 43) + _rot(g, 30) + h) & _MASK,
        (e + _rot((f + a) & _MASK, 18) + g) & _MASK,
        mul,
    )


def _weak_hash32(s: bytes, i: int, a: int, b: int) -> tuple[int, int]:
    """The `WeakHashLen32WithSeeds` of farmhash, on s[i : i + 32]."""
    w, x, y, z = (_fetch64(s, i + 8 * k) for k in range(4))
    a = (a + w) & _MASK
    b = _rot((b + a + z) & _MASK, 21)
    c = a
    a = (a + x + y) & _MASK
    b = (b + _rot(a, 44)) & _MASK
    return (a + z) & _MASK, (b + c) & _MASK


def _hash_long(s: bytes) -> int:
    """Strings over 64 bytes: 64-byte blocks through a 56-byte state."""
    n = len(s)
    x = (_SEED * K2 + _fetch64(s, 0)) & _MASK
    y = (_SEED * K1 + 113) & _MASK
    z = (_shift_mix((y * K2 + 113) & _MASK) * K2) & _MASK
    v = w = (0, 0)
    end = ((n - 1) // 64) * 64
    for i in range(0, end, 64):
        x = (_rot((x + y + v[0] + _fetch64(s, i + 8)) & _MASK, 37) * K1) & _MASK
        y = (_rot((y + v[1] + _fetch64(s, i + 48)) & _MASK, 42) * K1) & _MASK
        x ^= w[1]
        y = (y + v[0] + _fetch64(s, i + 40)) & _MASK
        z = (_rot((z + w[0]) & _MASK, 33) * K1) & _MASK
        v = _weak_hash32(s, i, (v[1] * K1) & _MASK, (x + w[0]) & _MASK)
        w = _weak_hash32(s, i + 32, (z + w[1]) & _MASK, (y + _fetch64(s, i + 16)) & _MASK)
        z, x = x, z
    mul = K1 + ((z & 0xFF) << 1)
    last = n - 64
    w0 = (w[0] + ((n - 1) & 63)) & _MASK
    v0 = (v[0] + w0) & _MASK
    w0 = (w0 + v0) & _MASK
    v, w = (v0, v[1]), (w0, w[1])
    x = (_rot((x + y + v[0] + _fetch64(s, last + 8)) & _MASK, 37) * mul) & _MASK
    y = (_rot((y + v[1] + _fetch64(s, last + 48)) & _MASK, 42) * mul) & _MASK
    x ^= (w[1] * 9) & _MASK
    y = (y + v[0] * 9 + _fetch64(s, last + 40)) & _MASK
    z = (_rot((z + w[0]) & _MASK, 33) * mul) & _MASK
    v = _weak_hash32(s, last, (v[1] * mul) & _MASK, (x + w[0]) & _MASK)
    w = _weak_hash32(s, last + 32, (z + w[1]) & _MASK, (y + _fetch64(s, last + 16)) & _MASK)
    z, x = x, z
    return _hash_len16(
        (_hash_len16(v[0], w[0], mul) + _shift_mix(y) * K0 + z) & _MASK,
        (_hash_len16(v[1], w[1], mul) + x) & _MASK,
        mul,
    )


def fingerprint64(data: bytes) -> int:
    """FarmHash Fingerprint64 of `data` (any length), as an unsigned 64-bit Python int."""
    n = len(data)
    if n <= 16:
        return _hash_len0to16(data)
    if n <= 32:
        return _hash_len17to32(data)
    if n <= 64:
        return _hash_len33to64(data)
    return _hash_long(data)


# ---------------------------------------------------------------- vectorised (up to 16 bytes)


def _rot_np(x: np.ndarray, shift: int) -> np.ndarray:
    return (x >> _U64(shift)) | (x << _U64(64 - shift))


def _hash_len16_np(u: np.ndarray, v: np.ndarray, mul: np.ndarray) -> np.ndarray:
    """The `HashLen16(u, v, mul)` of farmhash, overwriting `u` and `v` (uint64 wraps like C)."""
    a = u
    a ^= v
    a *= mul
    a ^= a >> _U64(47)
    v ^= a  # b = (v ^ a) * mul
    v *= mul
    v ^= v >> _U64(47)
    v *= mul
    return v


def _hash_len8to16_np(first: np.ndarray, last: np.ndarray, mul: np.ndarray) -> np.ndarray:
    """Fingerprint64 of 8-16 byte strings from their first and last 8 bytes (LE words).

    `first` and `last` are overwritten; `mul` is K2 + 2 * length (scalar or per string).
    """
    a = first
    a += _U64(K2)
    c = _rot_np(last, 37)
    c *= mul
    c += a  # c = Rotate(b, 37) * mul + a
    d = _rot_np(a, 25)
    d += last
    d *= mul  # d = (Rotate(a, 25) + b) * mul
    return _hash_len16_np(c, d, mul)


def fingerprint64_suffixed(values: np.ndarray, suffix: bytes) -> np.ndarray:
    """Fingerprint64 of 8-byte strings each followed by `suffix` (1 to 8 bytes), vectorised.

    This is the hot path of the Criteo reader: `values` holds each 8-character categorical
    value as one little-endian word, `suffix` the column index as text. The strings are 9 to
    16 bytes long, so this is farmhash's `HashLen0to16` for length >= 8, written with
    in-place numpy operations (four arrays in all: fresh temporaries cost page faults).

    Args:
        values: uint64 array; each element is an 8-byte string read as a little-endian word.
        suffix: the bytes appended to every string (1 to 8 bytes).

    Returns:
        A uint64 array of the shape of `values`: `Fingerprint64(value_bytes + suffix)`.
    """
    k = len(suffix)
    if not 1 <= k <= 8:
        raise ValueError(f"suffix must be 1 to 8 bytes, got {suffix!r}")
    values = np.asarray(values, dtype=np.uint64)
    mul = _U64(K2 + 2 * (8 + k))
    # b: the last 8 bytes of value + suffix = the value's last 8 - k bytes, then the suffix.
    b = np.right_shift(values, _U64(8 * k)) if k < 8 else np.zeros_like(values)
    b |= _U64(int.from_bytes(suffix, "little") << (64 - 8 * k) & _MASK)
    a = np.add(values, _U64(K2))  # a = Fetch64(s) + k2
    c = np.right_shift(b, _U64(37))  # c = Rotate(b, 37) * mul + a
    t = np.left_shift(b, _U64(27))
    c |= t
    c *= mul
    c += a
    np.right_shift(a, _U64(25), out=t)  # d = (Rotate(a, 25) + b) * mul, in t
    np.left_shift(a, _U64(39), out=a)
    t |= a
    t += b
    t *= mul
    # HashLen16(c, d, mul): a' = (c ^ d) * mul, a' ^= a' >> 47, ...
    c ^= t
    c *= mul
    np.right_shift(c, _U64(47), out=a)
    c ^= a
    t ^= c  # b' = (d ^ a') * mul, b' ^= b' >> 47, b' *= mul
    t *= mul
    np.right_shift(t, _U64(47), out=a)
    t ^= a
    t *= mul
    return t


def _pack(strings: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Strings of at most 16 bytes as a zero-padded (n, 16) uint8 array and their lengths."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    padded = np.frombuffer(b"".join(s.ljust(16, b"\0") for s in strings), dtype=np.uint8)
    return padded.reshape(len(strings), 16), lengths


def _words_at(padded: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    """Little-endian words of `width` bytes starting at `start` in each row of `padded`."""
    cols = np.clip(start[:, None], 0, 16 - width) + np.arange(width)
    picked = np.take_along_axis(padded, cols, axis=1).astype(np.uint64)
    shifts = (np.arange(width, dtype=np.uint64) * _U64(8))[None, :]
    return np.bitwise_or.reduce(picked << shifts, axis=1)


def _hash_short_np(padded: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Fingerprint64 of strings of 0 to 16 bytes (farmhash's `HashLen0to16`), vectorised."""
    out = np.full(len(lengths), K2, dtype=np.uint64)
    n = lengths.astype(np.uint64)
    mul = _U64(K2) + n * _U64(2)
    long8 = lengths >= 8
    if long8.any():
        first = _words_at(padded[long8], np.zeros(long8.sum(), np.int64), 8)
        last = _words_at(padded[long8], lengths[long8] - 8, 8)
        out[long8] = _hash_len8to16_np(first, last, mul[long8])
    mid = (lengths >= 4) & ~long8
    if mid.any():
        head = _words_at(padded[mid], np.zeros(mid.sum(), np.int64), 4)
        tail = _words_at(padded[mid], lengths[mid] - 4, 4)
        out[mid] = _hash_len16_np(n[mid] + (head << _U64(3)), tail, mul[mid])
    tiny = (lengths > 0) & (lengths < 4)
    if tiny.any():
        rows, lens = padded[tiny].astype(np.uint64), lengths[tiny]
        idx = np.arange(len(lens))
        y = rows[:, 0] + (rows[idx, lens >> 1] << _U64(8))
        z = n[tiny] + (rows[idx, lens - 1] << _U64(2))
        h = (y * _U64(K2)) ^ (z * _U64(K0))
        h ^= h >> _U64(47)
        out[tiny] = h * _U64(K2)
    return out


def fingerprint64_many(strings: Sequence[bytes]) -> np.ndarray:
    """Fingerprint64 of each byte string, as uint64: vectorised up to 16 bytes, scalar beyond.

    Args:
        strings: byte strings of any length.

    Returns:
        A uint64 array with one fingerprint per string.
    """
    strings = list(strings)
    short = [i for i, s in enumerate(strings) if len(s) <= 16]
    out = np.empty(len(strings), dtype=np.uint64)
    if short:
        with np.errstate(over="ignore"):
            out[short] = _hash_short_np(*_pack([strings[i] for i in short]))
    if len(short) < len(strings):
        long_ = sorted(set(range(len(strings))) - set(short))
        out[long_] = np.array([fingerprint64(strings[i]) for i in long_], dtype=np.uint64)
    return out
