"""Gaussian input noise: X <- X + sd * z, z ~ N(0, 1) i.i.d., fresh for every batch, drawn from the
training Generator into arrays allocated once (a batch allocates nothing).

How z is drawn depends on the training dtype, whichever is fastest and exact to that precision:
  float64  numpy's ziggurat, Generator.standard_normal: the same numbers as Generator.normal(0, sd)
  float32  the Box-Muller transform of float32 uniforms u1, u2 in [0, 1) (multiples of 2^-24):
           r = sqrt(-2 ln(1 - u1)), z1 = r cos(2 pi u2), z2 = r sin(2 pi u2): two independent N(0, 1)
           from two uniforms, all in float32 (about 3x faster than numpy's float32 ziggurat). |z| <= 5.77
           (a probability of 8e-9 is cut off the tails).
The Generator's state after each batch is all a checkpoint needs to continue the same noise exactly.
"""

from __future__ import annotations

import numpy as np


class GaussianNoise:
    """Adds N(0, sd^2) noise to batches of up to `rows` x `cols` values of `dtype`, from `rng`."""

    def __init__(self, sd: float, rng: np.random.Generator, rows: int, cols: int, dtype):
        self.sd, self.rng, self.dtype = float(sd), rng, np.dtype(dtype)
        size = rows * cols
        if self.dtype == np.float32:
            half = (size + 1) // 2
            self.uniforms = np.empty(2 * half, self.dtype)  # u1 (radii) then u2 (angles)
            self.z = np.empty(half, self.dtype)
        else:
            self.z = np.empty(size, self.dtype)

    def add_to(self, X: np.ndarray) -> None:
        """X += sd * z in place; X is C-contiguous, of this dtype, with at most rows x cols values."""
        if not X.flags.c_contiguous or X.dtype != self.dtype:
            raise ValueError(f"input noise needs a C-contiguous {self.dtype} batch, not {X.dtype}")
        flat = X.reshape(-1)  # a view (X is contiguous), so adding to it adds to X
        if self.dtype == np.float32:
            self._box_muller_into(flat)
        else:
            z = self.z[:flat.size]
            self.rng.standard_normal(out=z)
            z *= self.dtype.type(self.sd)
            flat += z

    def _box_muller_into(self, flat: np.ndarray) -> None:
        dt = self.dtype.type
        n = flat.size
        half = (n + 1) // 2
        u = self.uniforms[:2 * half]
        self.rng.random(out=u, dtype=self.dtype)
        r, angle = u[:half], u[half:]
        np.subtract(dt(1), r, out=r)  # in (0, 1]: log never sees 0
        np.log(r, out=r)
        r *= dt(-2)
        np.sqrt(r, out=r)
        r *= dt(self.sd)
        angle *= dt(2 * np.pi)
        z = self.z[:half]
        np.cos(angle, out=z)
        z *= r
        flat[:half] += z
        np.sin(angle, out=angle)
        angle *= r
        flat[half:] += angle[:n - half]
