"""Rows for ops/fft.py: every numpy.fft transform with n / s (cropping and zero-padding, odd
and even lengths), axis / axes, the three normalisations, real and complex inputs, and the
shifts.  Compared against torch.fft."""

import numpy as np

from harness import Table

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

C = np.complex128
ROWS = Table()
NORMS = [None, "ortho", "forward"]


row = ROWS.row


def tfft(name, **kw):
    if torch is None:
        return None
    kw = {("dim" if k in ("axis", "axes") else k): v for k, v in kw.items()}
    # (x * 1.0 and resolve_conj: torch's lazy conjugation would reach .numpy() otherwise)
    return lambda x: getattr(torch.fft, name)(x * 1.0, **kw).resolve_conj()


def one_d(name, prim, shape, dtype, **kw):
    row(prim, lambda x: getattr(np.fft, name)(x, **kw), [shape], tfft(name, **kw),
        dtype=dtype, order=2 if dtype is np.float64 else 1,
        id=f"fft.{name}{list(shape)}{kw}{'-complex' if dtype is C else ''}")


# fft / ifft: real and complex input, n crop / pad, axis, every norm
for name in ["fft", "ifft"]:
    one_d(name, "fft.c2c", (5,), np.float64)
    one_d(name, "fft.c2c", (4,), C)
    for norm in NORMS[1:]:
        one_d(name, "fft.c2c", (4,), C, norm=norm)
    one_d(name, "fft.c2c", (2, 5), C, n=3)
    one_d(name, "fft.c2c", (3, 2), np.float64, n=4, axis=0, norm="ortho")

# rfft: n odd and even, crop and pad, every norm
for n in [None, 4, 5, 7, 8]:
    for norm in NORMS:
        kw = {"norm": norm} if norm else {}
        if n is not None:
            kw["n"] = n
        one_d("rfft", "fft.r2c", (6,), np.float64, **kw)
one_d("rfft", "fft.r2c", (5, 2), np.float64, axis=0)

# irfft: complex (and real) half spectra, n odd and even, default n, every norm
for m, n in [(4, None), (4, 6), (4, 7), (3, 5), (3, 4), (4, 9), (5, 3)]:
    for norm in NORMS:
        kw = {"norm": norm} if norm else {}
        if n is not None:
            kw["n"] = n
        one_d("irfft", "fft.c2r", (m,), C, **kw)
one_d("irfft", "fft.c2r", (4,), np.float64, n=7)
one_d("irfft", "fft.c2r", (3, 2), C, n=5, axis=0, norm="ortho")

# hfft / ihfft (composites of irfft / rfft)
for n in [None, 5]:
    for norm in [None, "forward"]:
        kw = {"norm": norm} if norm else {}
        if n is not None:
            kw["n"] = n
        one_d("hfft", "fft.c2r", (4,), C, **kw)
        one_d("ihfft", "fft.r2c", (5,), np.float64, **kw)

# 2-D and n-D


def nd(name, prim, shape, dtype, **kw):
    row(prim, lambda x: getattr(np.fft, name)(x, **kw), [shape], tfft(name, **kw),
        dtype=dtype, order=2 if dtype is np.float64 else 1,
        id=f"fft.{name}{list(shape)}{kw}{'-complex' if dtype is C else ''}")


for name in ["fft2", "ifft2", "fftn", "ifftn"]:
    nd(name, "fft.c2c", (3, 4), C)
    nd(name, "fft.c2c", (2, 3), np.float64, norm="ortho")
    nd(name, "fft.c2c", (2, 3, 2), C, s=(4, 3), axes=(0, 2), norm="forward")
nd("fftn", "fft.c2c", (2, 3, 2), C, axes=(1,))
for name in ["rfft2", "rfftn"]:
    nd(name, "fft.r2c", (3, 4), np.float64)
    nd(name, "fft.r2c", (3, 5), np.float64, norm="ortho")
    nd(name, "fft.r2c", (2, 3, 4), np.float64, s=(3, 5), axes=(0, 2), norm="forward")
nd("rfftn", "fft.r2c", (2, 3, 4), np.float64, axes=(1, 0))
for name in ["irfft2", "irfftn"]:
    nd(name, "fft.c2r", (3, 3), C)
    nd(name, "fft.c2r", (3, 3), C, s=(2, 5), axes=(0, 1), norm="ortho")
    nd(name, "fft.c2r", (2, 3, 4), C, s=(3, 4), axes=(0, 2), norm="forward")
nd("irfftn", "fft.c2r", (2, 3, 3), C, axes=(2, 1))
nd("irfftn", "fft.c2r", (3, 3), np.float64, s=(3, 5), axes=(0, 1))

# round trips (exercise the adjoints of both directions at once)
row("fft.c2r", lambda x: np.fft.irfft(np.fft.rfft(x, norm="ortho") * np.arange(1, 4), n=5,
                                      norm="ortho"), [(5,)], id="rfft->irfft[n=5]")
row("fft.c2c", lambda x: np.fft.ifftn(np.fft.fftn(x) * np.arange(1, 4)), [(2, 3)], dtype=C,
    order=1, id="fftn->ifftn")

# shifts


def shift(name, shape, dtype=np.float64, **kw):
    tkw = {("dim" if k == "axes" else k): v for k, v in kw.items()}
    row("concatenate", lambda x: getattr(np.fft, name)(x, **kw), [shape],
        (lambda x: getattr(torch.fft, name)(x, **tkw)) if torch is not None else None,
        dtype=dtype, order=2 if dtype is np.float64 else 1,
        id=f"fft.{name}{list(shape)}{kw}")


for name in ["fftshift", "ifftshift"]:
    shift(name, (5,))
    shift(name, (3, 4))
    shift(name, (3, 4), axes=1)
    shift(name, (2, 3, 5), axes=(0, 2))
    shift(name, (4,), dtype=C)
