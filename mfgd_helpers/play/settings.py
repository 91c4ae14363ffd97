"""What the playground's controls say: ``Settings``, checked on creation."""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import check_choice, check_dim, check_lr, check_scalar

__all__ = ["ORIGINAL_SHAPE", "Settings", "TARGETS", "TORCH_SEED_MAX"]

TARGETS = ("original", "random")
ORIGINAL_SHAPE = {"n": 3, "m": 4, "rank": 2}  # the original notebook's D: 3x4 of rank 2
TORCH_SEED_MAX = 2**64 - 1  # the largest seed torch accepts


@dataclass(frozen=True)
class Settings:
    """What the sliders say; checked on creation.

    Defaults are the original notebook's run: its printed 3x4 D of rank 2 and
    its starting C and F, k = 2, lr = 0.001 and 10000 iterations. numpy
    scalars and 0-d tensors are accepted and stored as Python numbers.

    Attributes
    ----------
    lr : float > 0
        Learning rate.
    k : int, 1 <= k <= min(n, m)
        Columns of C (rows of F).
    n_iterations : int >= 1
    target : {"original", "random"}
        "original": the original notebook's D, C and F (n, m and rank must be
        3, 4 and 2). "random": ``make_target(n, m, rank)`` drawn with ``seed``.
    n, m : int >= 1
        Shape of D.
    rank : int, 1 <= rank <= min(n, m)
        The true rank of D (``make_target``'s inner dimension).
    seed : int >= 0
        Draws the random D and the starting factors: C and F are the first k
        columns (rows) of one draw of size min(n, m), so changing k keeps the
        columns you had. With the original D, only the third column of C (and
        row of F) for k = 3 is drawn.

    Raises
    ------
    TypeError
        For a value of the wrong kind (a string, a bool, a float for an
        integer).
    ValueError
        For a value out of bounds, or settings that do not fit together.

    Examples
    --------
    >>> Settings()
    Settings(lr=0.001, k=2, n_iterations=10000, target='original', n=3, m=4, rank=2, seed=0)
    >>> Settings(k=4)
    Traceback (most recent call last):
    ...
    ValueError: k == 4, must be an integer >= 1 and <= 3. More columns than min(n, m) == 3 ...
    >>> Settings(seed=1.5)
    Traceback (most recent call last):
    ...
    TypeError: seed == 1.5 (float), must be an integer >= 0 and <= 18446744073709551615. ...
    """

    lr: float = 0.001
    k: int = 2
    n_iterations: int = 10000
    target: str = "original"
    n: int = 3
    m: int = 4
    rank: int = 2
    seed: int = 0

    def __post_init__(self):
        target = check_choice(self.target, "target", TARGETS,
                              "'original' for the original notebook's D, 'random' for "
                              "make_target(n, m, rank, seed).")
        n, m, rank = (check_dim(getattr(self, name), name) for name in ("n", "m", "rank"))
        if target == "original":
            for name, value in (("n", n), ("m", m), ("rank", rank)):
                if value != ORIGINAL_SHAPE[name]:
                    raise ValueError(
                        f"{name} == {value}, but the original D is 3x4 of rank 2, so "
                        f"{name} must be {ORIGINAL_SHAPE[name]}. Pass target='random' to "
                        "choose n, m and rank.")
        rank = check_scalar(rank, "rank", int, min_val=1, max_val=min(n, m),
                            fix=f"An {n}x{m} matrix has at most rank min(n, m) == "
                                f"{min(n, m)}. Lower rank or enlarge D.")
        k = check_scalar(self.k, "k", int, min_val=1, max_val=min(n, m),
                         fix=f"More columns than min(n, m) == {min(n, m)} cannot lower "
                             "the loss further. Lower k or enlarge D.")
        values = {
            "lr": check_lr(self.lr), "k": k,
            "n_iterations": check_dim(self.n_iterations, "n_iterations"),
            "target": target, "n": n, "m": m, "rank": rank,
            "seed": check_scalar(self.seed, "seed", int, min_val=0, max_val=TORCH_SEED_MAX,
                                 fix="Pass e.g. seed=0."),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def describe(self) -> str:
        """The settings in a few words, e.g. for a plot title.

        Examples
        --------
        >>> Settings().describe()
        'lr 0.001, k 2, 10000 iterations; original D (3x4, rank 2)'
        """
        target = ("original D" if self.target == "original"
                  else f"random D (seed {self.seed})")
        return (f"lr {self.lr:.3g}, k {self.k}, {self.n_iterations} iterations; "
                f"{target} ({self.n}x{self.m}, rank {self.rank})")
