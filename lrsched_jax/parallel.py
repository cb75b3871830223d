r"""Data parallelism for the JAX helpers and the finder: one global batch split over a mesh.

:func:`lrsched_jax.train.train_step`, :func:`~lrsched_jax.train.train_epoch`,
:func:`~lrsched_jax.train.evaluate`, :func:`lrsched_jax.find_lr` and
:func:`lrsched_jax.find_lr_pure` take ``mesh=`` (a :class:`jax.sharding.Mesh`) and
``data_axis=`` (the mesh axis, or axes, the batch is split over). With a mesh, the same
jitted programs run SPMD over its devices:

* the **batch** is sharded over the data axis along its leading (sample) dimension, so
  every device holds ``batch_size / size`` samples of each step's global batch;
* **parameters, optimizer state** and everything else of the model are replicated over the
  mesh — except arrays already placed on the mesh's devices, which stay as the user placed
  them (sharded weights of a 2-D ``("data", "model")`` mesh, for instance);
* the loss is the **global mean** over the whole batch: the loss function's ``mean`` over a
  sharded axis is a cross-device reduction that XLA inserts, and so are the gradients'.
  The optimizer's update count is replicated, so the schedule is evaluated in-graph, on
  every device, from the same count.

Nothing about the numbers changes: with the same global batch, a run on ``N`` devices
computes what the single-device run computes, up to the order of float additions in the
reductions. Without a mesh, inputs that are already sharded over a mesh along their leading
dimension (``jax.device_put(x, NamedSharding(mesh, P("data")))``, or global arrays made with
``jax.make_array_from_process_local_data``) make the helpers use that mesh and axis.

Boundary cases: a global batch whose size does not split evenly over the data axis raises
``ValueError`` naming the argument (``batch_size``, ``x``, ``data``); a mesh with several
axes and no ``"data"`` axis needs ``data_axis``. Meshes of both axis types work
(``jax.make_mesh`` builds ``Explicit`` axes by default, ``Auto`` axes are the classic
sharding-in-types-free mode): placements inside the programs use ``jax.sharding.reshard`` on
explicit axes and ``jax.lax.with_sharding_constraint`` on automatic ones.

**Several hosts.** Call ``jax.distributed.initialize()`` on every host first, build the mesh
over all devices (``jax.make_mesh((jax.device_count(),), ("data",))``), and pass global
arrays: ``jax.make_array_from_process_local_data(NamedSharding(mesh, P("data")), local)``
turns each host's part of the data (or of a batch) into one global array. Every host runs
the same program on its devices; the results the helpers return (losses, lrs, the finder's
curve) are replicated arrays, identical on every host.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from lrsched_jax.core.validate import here

# Explicit mesh axes (sharding in types) exist in newer JAX only; older meshes are all automatic.
_EXPLICIT = getattr(getattr(jax.sharding, "AxisType", None), "Explicit", None)

__all__ = ["DataParallel", "infer", "resolve"]


def _is_key(a: Any) -> bool:
    return isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jax.dtypes.prng_key)


def _put(a: Any, sharding: NamedSharding) -> Any:
    """``a`` placed with ``sharding``. Typed PRNG keys travel as their key data: on several
    hosts ``device_put`` refuses a key array for a sharding with remote devices."""
    if _is_key(a):
        impl = jax.random.key_impl(a)
        return jax.random.wrap_key_data(jax.device_put(jax.random.key_data(a), sharding), impl=impl)
    return jax.device_put(a, sharding)


@dataclasses.dataclass(frozen=True)
class DataParallel:
    """A mesh and the axes of it that split the batch (hashable: part of the jit specs).

    ``size`` is the number of batch shards (the product of the data axes' sizes).
    """

    mesh: Mesh
    axes: tuple[str, ...]

    @property
    def size(self) -> int:
        return math.prod(int(self.mesh.shape[a]) for a in self.axes)

    @property
    def _entry(self) -> Any:
        return self.axes[0] if len(self.axes) == 1 else self.axes

    @property
    def _explicit(self) -> bool:
        if _EXPLICIT is None:
            return False
        types = dict(zip(self.mesh.axis_names, getattr(self.mesh, "axis_types", ())))
        return any(types.get(a) == _EXPLICIT for a in self.axes)

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, P())

    def batch_sharding(self, dim: int = 0) -> NamedSharding:
        """Samples along dimension ``dim`` split over the data axes, everything else replicated."""
        return NamedSharding(self.mesh, P(*([None] * dim), self._entry))

    # -- inside traced code -----------------------------------------------------------
    def constrain(self, tree: Any, sharding: NamedSharding) -> Any:
        """Every leaf of ``tree`` (traced) laid out as ``sharding``."""
        if self._explicit:
            return jax.tree.map(lambda a: jax.sharding.reshard(a, sharding), tree)
        return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, sharding), tree)

    def layout(self, tree: Any) -> Any:
        """The shardings of ``tree``'s leaves (traced), for :meth:`keep_layout`; ``None``
        where the mesh's axes are automatic (shardings are then not part of the types)."""
        if not self._explicit:
            return None
        return jax.tree.map(lambda a: jax.typeof(a).sharding, tree)

    def keep_layout(self, new: Any, layout: Any) -> Any:
        """``new`` (traced) in ``layout`` (from :meth:`layout` of a loop's initial carry).

        Under explicit sharding a layout propagates into results — batch statistics computed
        from weights sharded over a ``"model"`` axis come out sharded too — while ``scan``
        and ``while_loop`` need the carry to come back with the type it went in with."""
        if layout is None:
            return new

        def leaf(a: Any, want: Any) -> Any:
            if jax.typeof(a).sharding == want:
                return a
            return jax.sharding.reshard(a, want if want.mesh.axis_names else self.replicated)

        return jax.tree.map(leaf, new, layout)

    # -- on the host ------------------------------------------------------------------
    def check(self, name: str, n: int) -> None:
        """``ValueError`` naming ``name`` unless a global batch of ``n`` samples splits evenly."""
        if n % self.size:
            raise ValueError(
                f"{here()}: {name}: a global batch of {n} samples does not split evenly over the "
                f"{self.size} devices of the data axis {self._entry!r}; use a multiple of {self.size}"
            )

    def on_mesh(self, a: Any) -> bool:
        """Whether ``a`` is a JAX array placed over exactly this mesh's devices (by the user,
        or by an earlier call). A single-device array on a 1-device mesh is not: it carries
        no mesh, which explicit sharding needs to type the gradients' reductions."""
        return (
            isinstance(a, jax.Array)
            and isinstance(a.sharding, NamedSharding)
            and a.sharding.device_set == set(self.mesh.devices.flat)
        )

    def place_state(self, tree: Any) -> Any:
        """``tree`` with every array not already on the mesh replicated over it."""

        def leaf(a: Any) -> Any:
            if self.on_mesh(a) or not isinstance(a, (jax.Array, np.ndarray, np.generic)):
                return a
            return _put(a, self.replicated)

        return jax.tree.map(leaf, tree)

    def place_batch(self, name: str, tree: Any) -> Any:
        """A global batch (arrays with a leading sample dimension) split over the data axes;
        arrays already on the mesh are used as placed, scalars are replicated."""

        def leaf(a: Any) -> Any:
            if self.on_mesh(a):
                return a
            if not isinstance(a, (jax.Array, np.ndarray, np.generic)):
                a = np.asarray(a)
            if a.ndim == 0:
                return _put(a, self.replicated)
            self.check(name, int(a.shape[0]))
            return _put(a, self.batch_sharding(0))

        return jax.tree.map(leaf, tree)

    def prebatch(self, tree: Any, n_batches: int, batch_size: int) -> Any:
        """In-memory data ``(N, ...)`` as ``(n_batches, batch_size, ...)`` — the first
        ``n_batches * batch_size`` samples in order — with the batch dimension split over the
        data axes, so each step's batch ``a[k]`` is already distributed. Host arrays are cut on
        the host and each device receives only its part; arrays on the mesh are regrouped by
        one jitted program (a one-time exchange between devices)."""
        used = n_batches * batch_size

        def leaf(a: Any) -> Any:
            if self.on_mesh(a):
                return _prebatch_on_mesh(a, n_batches, batch_size, self)
            if isinstance(a, jax.Array):
                # On another device (a single GPU): cut there, then one device-to-device copy.
                cut: Any = a[:used].reshape(n_batches, batch_size, *a.shape[1:])
            else:
                cut = np.asarray(a)[:used].reshape(n_batches, batch_size, *np.shape(a)[1:])
            return _put(cut, self.batch_sharding(1))

        return jax.tree.map(leaf, tree)

    def replicate_data(self, tree: Any) -> Any:
        """In-memory data whole on every device (for in-program shuffling: any permutation
        of it is then a local gather)."""

        def leaf(a: Any) -> Any:
            if self.on_mesh(a):
                return _replicate_on_mesh(a, self)
            return _put(a, self.replicated)

        return jax.tree.map(leaf, tree)


def _prebatch_on_mesh_impl(a: Any, n_batches: int, batch_size: int, dp: DataParallel) -> Any:
    # Whole first (a sharded leading dimension cannot be cut at an arbitrary sample under
    # explicit sharding), then cut, regroup and split the batch dimension.
    a = dp.constrain(a, dp.replicated)
    a = a[: n_batches * batch_size].reshape(n_batches, batch_size, *a.shape[1:])
    return dp.constrain(a, dp.batch_sharding(1))


_prebatch_on_mesh = jax.jit(_prebatch_on_mesh_impl, static_argnums=(1, 2, 3))
_replicate_on_mesh = jax.jit(lambda a, dp: dp.constrain(a, dp.replicated), static_argnums=(1,))


def _axes(mesh: Mesh, data_axis: Any) -> tuple[str, ...]:
    names = tuple(mesh.axis_names)
    if data_axis is None:
        if len(names) == 1:
            return names
        if "data" in names:
            return ("data",)
        raise ValueError(
            f"{here()}: data_axis: the mesh has axes {names} and none is called 'data'; name the axis "
            "(or axes) the batch is split over"
        )
    axes = (data_axis,) if isinstance(data_axis, str) else data_axis
    if not isinstance(axes, Sequence) or not axes or not all(isinstance(a, str) for a in axes):
        raise TypeError(
            f"{here()}: data_axis must be a mesh axis name or a non-empty sequence of them, got {data_axis!r}"
        )
    axes = tuple(axes)
    unknown = [a for a in axes if a not in names]
    if unknown or len(set(axes)) != len(axes):
        raise ValueError(f"{here()}: data_axis: {data_axis!r} must name distinct axes of the mesh {names}")
    return axes


def infer(tree: Any) -> DataParallel | None:
    """The mesh and data axes of the first array in ``tree`` that is split along its leading
    dimension over more than one device, or ``None``."""
    for a in jax.tree.leaves(tree):
        if not isinstance(a, jax.Array) or a.ndim == 0:
            continue
        sharding = a.sharding
        # A concrete array's NamedSharding holds a concrete Mesh (AbstractMesh only under tracing).
        if not isinstance(sharding, NamedSharding) or not isinstance(sharding.mesh, Mesh):
            continue
        if len(sharding.device_set) < 2:
            continue
        first = sharding.spec[0] if len(sharding.spec) else None
        if first is None:
            continue
        axes = (first,) if isinstance(first, str) else tuple(first)
        return DataParallel(sharding.mesh, axes)
    return None


def resolve(mesh: Any, data_axis: Any, inputs: Any = None) -> DataParallel | None:
    """The data parallelism asked for: ``mesh`` (with ``data_axis``, or its default), else
    what ``inputs`` are already sharded over, else ``None`` (one device)."""
    if mesh is None:
        if data_axis is not None:
            raise ValueError(f"{here()}: data_axis is given without a mesh; pass mesh= as well")
        return infer(inputs)
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"{here()}: mesh must be a jax.sharding.Mesh (e.g. jax.make_mesh((jax.device_count(),), "
            f"('data',))) or None, got {type(mesh).__name__}"
        )
    return DataParallel(mesh, _axes(mesh, data_axis))
