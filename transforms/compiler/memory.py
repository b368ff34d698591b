"""Memory planning for generated code: when each value dies, and which buffer to reuse.

Every value of a graph lives in some *storage* (a buffer). A primitive whose emitter is
``fresh`` allocates a new storage for its result; any other result (a reshape, a
transpose, a broadcast) may be a view of its inputs' storages. A storage is dead once
every value that may view it has had its last use. Dead storages that the program
owns (results of fresh emitters, and donated inputs) go to a pool by (shape, dtype);
an emitter that ``accepts_out`` writes its result into a pooled buffer of its output's
type instead of allocating. An elementwise emitter (``in_place``) may also write into
one of its own operands when that is the operand's last use.

Example:
    >>> import fx, fx.numpy as fnp
    >>> g = fx.make_graph(lambda x: fnp.exp(x) * 2.0 + 1.0)(fx.ShapedArray((8,), "float32"))
    >>> p = plan(g)
    >>> [v is not None for v in p.reuse]    # mul and add write into exp's buffer
    [False, True, True]
"""
from __future__ import annotations

from typing import NamedTuple

from fx.core.graph import Var


class Plan(NamedTuple):
    free_after: list   # per equation: the variables whose last use it is
    reuse: list        # per equation: the variable whose buffer its result goes into, or None


def plan(graph, donated=(), emitter_of=None) -> Plan:
    """The memory plan of ``graph``; ``donated`` are invars whose buffers may be reused;
    ``emitter_of(prim)`` gives each primitive's emitter (whose flags say what it may do)."""
    if emitter_of is None:
        from transforms.compiler.codegen import emitter_of

    def emitter_flag(prim, flag: str) -> bool:
        return getattr(emitter_of(prim), flag, False)

    n = len(graph.eqns)
    last_use: dict[int, int] = {}
    for i, eqn in enumerate(graph.eqns):
        for x in eqn.inputs:
            if type(x) is Var:
                last_use[id(x)] = i
    for v in graph.outvars:
        if type(v) is Var:
            last_use[id(v)] = n  # outputs live past the end

    storage_of: dict[int, frozenset] = {}   # var -> storages it may view
    holders: dict[int, int] = {}            # storage -> number of live vars viewing it
    owned: dict[int, Var] = {}              # storage -> the var whose buffer it is (ours)
    counter = iter(range(1 << 62))

    def new_storage(var, is_owned: bool) -> None:
        s = next(counter)
        storage_of[id(var)] = frozenset((s,))
        holders[s] = 1
        if is_owned:
            owned[s] = var

    for v in graph.invars:
        new_storage(v, is_owned=any(v is d for d in donated))

    pool: dict[tuple, list[int]] = {}
    pooled_at: dict[int, int] = {}  # pooled storage -> the equation after which it died
    free_after, reuse = [], []
    for i, eqn in enumerate(graph.eqns):
        out = eqn.outvars[0] if len(eqn.outvars) == 1 else None
        target = None
        if out is not None and out.aval.ndim > 0 and emitter_flag(eqn.prim, "accepts_out"):
            key = (out.aval.shape, out.aval.dtype)
            if emitter_flag(eqn.prim, "in_place"):
                target = _dying_operand(eqn, i, key, last_use, storage_of, holders, owned)
            if target is None and pool.get(key):
                target = pool[key].pop()
        if target is not None:
            previous = owned[target]
            reuse.append(previous)
            if target in pooled_at:  # keep the buffer alive until now
                free_after[pooled_at.pop(target)].remove(previous)
            free_after_here = [previous]
            owned[target] = out
            storage_of[id(out)] = frozenset((target,))
            holders[target] += 1
        else:
            free_after_here = []
            reuse.append(None)
            fresh = emitter_flag(eqn.prim, "fresh")
            for o in eqn.outvars:
                if fresh and len(eqn.outvars) == 1 and o.aval.ndim > 0:
                    new_storage(o, is_owned=True)
                else:
                    views = frozenset().union(*(storage_of[id(x)] for x in eqn.inputs
                                                if type(x) is Var))
                    storage_of[id(o)] = views
                    for s in views:
                        holders[s] += 1
        dying = [x for x in _unique_vars(eqn.inputs) if last_use[id(x)] == i]
        dying += [o for o in eqn.outvars if id(o) not in last_use]  # never used
        for v in dying:
            for s in storage_of[id(v)]:
                holders[s] -= 1
                if holders[s] == 0 and s in owned and owned[s] in dying:  # (when only a
                    aval = owned[s].aval  # view outlived the owner, its name is gone: skip)
                    pool.setdefault((aval.shape, aval.dtype), []).append(s)
                    pooled_at[s] = i
        free_after.append(dying + [v for v in free_after_here if v not in dying])
    return Plan(free_after, reuse)


def _dying_operand(eqn, i, key, last_use, storage_of, holders, owned):
    """An operand of ``eqn`` of type ``key`` whose buffer nothing needs after ``eqn``."""
    for x in eqn.inputs:
        if type(x) is Var and last_use[id(x)] == i and (x.aval.shape, x.aval.dtype) == key:
            storages = storage_of[id(x)]
            if len(storages) == 1:
                (s,) = storages
                if s in owned and owned[s] is x and holders[s] == 1:
                    return s
    return None


def _unique_vars(inputs):
    seen, out = set(), []
    for x in inputs:
        if type(x) is Var and id(x) not in seen:
            seen.add(id(x))
            out.append(x)
    return out
