"""GenQuery (API 702) over the sandbox catalog: joins implied by columns, conditions, ordering,
DISTINCT, aggregates and ACL filtering for non-admin users (irods-protocol.md §7)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from cyverse_link.sandbox._sql_like import like_regex
from cyverse_link.sandbox.irods.catalog import (
    READ,
    Avu,
    Catalog,
    Coll,
    DataObj,
    Replica,
    User,
    access_name,
    split,
)
from cyverse_link.sandbox.irods.protocol import IrodsError

ORDER_BY, ORDER_BY_DESC = 0x400, 0x800
NO_DISTINCT, UPPER_CASE_WHERE, RETURN_TOTAL_ROW_COUNT = 0x40, 0x200, 0x20
RESOURCE, RESC_ID, VAULT = "CyVerseRes", "10014", "/irods/vault"

_INT_COLS = {401, 402, 404, 407, 417, 500, 505, 603, 613, 700, 703, 704, 710, 713, 714, 201}
_INT_COLS |= {419, 420, 424, 508, 509, 604, 605, 614, 615, 208, 209}


def table_of(col: int) -> str:
    if 401 <= col <= 424:
        return "D"
    if 500 <= col <= 509:
        return "C"
    if 600 <= col <= 605:
        return "DM"
    if 610 <= col <= 615:
        return "CM"
    if 700 <= col <= 704:
        return "DA"
    if 710 <= col <= 714:
        return "CA"
    if 201 <= col <= 209:
        return "U"
    raise IrodsError(-823000, f"column {col} is not supported by the sandbox")  # CAT_UNKNOWN_TABLE


# ---- row values -------------------------------------------------------------------------------
def _data_values(cat: Catalog, obj: DataObj, rep: Replica) -> dict[int, str]:
    _coll_path, name = split(obj.path)
    return {
        401: str(obj.id),
        402: str(obj.coll_id),
        403: name,
        404: str(rep.number),
        405: "",
        406: "generic",
        407: str(rep.size),
        409: RESOURCE,
        410: f"{VAULT}{obj.path}",
        411: obj.owner,
        412: cat.zone,
        413: rep.status,
        414: "",
        415: rep.checksum,
        416: "00000000000",
        417: "0",
        418: "",
        419: rep.ctime,
        420: rep.mtime,
        422: RESOURCE,
        423: RESC_ID,
        424: rep.mtime,
    }


def _coll_values(cat: Catalog, coll: Coll) -> dict[int, str]:
    parent = split(coll.path)[0] if coll.path != "/" else "/"
    return {
        500: str(coll.id),
        501: coll.path,
        502: parent,
        503: coll.owner,
        504: cat.zone,
        505: "0",
        506: "1" if coll.inherit else "",
        507: "",
        508: coll.ctime,
        509: coll.mtime,
    }


def _avu_values(avu: Avu, base: int) -> dict[int, str]:
    return {
        base: avu.name,
        base + 1: avu.value,
        base + 2: avu.units,
        base + 3: str(avu.id),
        base + 4: avu.ctime,
        base + 5: avu.mtime,
    }


def _access_values(
    cat: Catalog, who: str, lvl: int, entity: int, base: int, persona: tuple[int, ...]
) -> dict[int, str]:
    user = cat.users.get(who)
    return {
        base: str(lvl),
        base + 1: access_name(lvl, persona),
        base + 2: "access_type",
        base + 3: str(user.id if user else 0),
        base + 4: str(entity),
    }


def _user_values(cat: Catalog, u: User) -> dict[int, str]:
    return {
        201: str(u.id),
        202: u.name,
        203: u.type,
        204: cat.zone,
        206: "",
        207: "",
        208: u.ctime,
        209: u.ctime,
    }


# ---- conditions -------------------------------------------------------------------------------
_OP = re.compile(r"\s*(not like|like|<>|!=|<=|>=|=|<|>|in|between)\s*(.*)$", re.I | re.S)
_QUOTED = re.compile(r"'((?:[^']|'')*)'")


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    return raw


def _key(col: int, value: str) -> Any:
    if col in _INT_COLS:
        try:
            return (0, int(value))
        except ValueError:
            pass
    return (1, value)


def compile_condition(col: int, cond: str, upper: bool) -> Callable[[str], bool]:
    match = _OP.match(cond)
    if not match:
        raise IrodsError(-806000, f"cannot parse condition {cond!r} on column {col}")  # CAT_SQL_ERR
    op, rest = match.group(1).lower(), match.group(2)

    def norm(v: str) -> str:
        return v.upper() if upper else v

    if op in ("like", "not like"):
        rx = like_regex(_unquote(rest))
        want = op == "like"
        return lambda v: bool(rx.fullmatch(norm(v))) is want
    if op == "in":
        options = {o.replace("''", "'") for o in _QUOTED.findall(rest)}
        return lambda v: norm(v) in options
    if op == "between":
        bounds = _QUOTED.findall(rest)
        if len(bounds) != 2:
            raise IrodsError(-806000, f"between needs two values: {cond!r}")
        lo, hi = _key(col, bounds[0]), _key(col, bounds[1])
        return lambda v: lo <= _key(col, norm(v)) <= hi
    target = _key(col, _unquote(rest))
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "<>": lambda a, b: a != b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    fn = compare[op]
    return lambda v: fn(_key(col, norm(v)), target)


def _equals(conds: list[tuple[int, str]], col: int) -> str | None:
    """The value of an exact ``col = 'v'`` condition: a shortcut to one catalog entry. The
    caller passes no conditions under UPPER_CASE_WHERE (values then match ``upper(col)``)."""
    for c, cond in conds:
        m = _OP.match(cond)
        if c == col and m and m.group(1) == "=":
            return _unquote(m.group(2))
    return None


# ---- several conditions on one AVU column -------------------------------------------------------
Test = Callable[[str], bool]


class AvuFilter:
    """AVU conditions beyond the first on an attribute name. Real iRODS gives the k-th
    condition on META_DATA_ATTR_NAME and the k-th on META_DATA_ATTR_VALUE their own alias of
    the metadata tables (irods/irods 4.3.1 and 4.2.8 plugins/database/src/general_query.cpp,
    ``handleMultiDataAVUConditions``, ``handleMultiCollAVUConditions``), so ``A = 1 and B = 2``
    finds the entity that has both AVUs; only the first alias is joined into the rows."""

    def __init__(self) -> None:
        self.data: list[tuple[Test | None, Test | None]] = []
        self.coll: list[tuple[Test | None, Test | None]] = []

    @staticmethod
    def _has_all(avus: list[Avu], wanted: list[tuple[Test | None, Test | None]]) -> bool:
        return all(
            any((n is None or n(a.name)) and (v is None or v(a.value)) for a in avus)
            for n, v in wanted
        )

    def obj_ok(self, obj: DataObj) -> bool:
        return self._has_all(obj.avus, self.data)

    def coll_ok(self, coll: Coll) -> bool:
        return self._has_all(coll.avus, self.coll)


def _split_avu_aliases(tests: list[tuple[int, Test]]) -> tuple[list[tuple[int, Test]], AvuFilter]:
    """Keep the first name and value condition of each AVU table on the rows; move the others,
    paired by order (k-th name with k-th value), into an AvuFilter. Only with more than one
    condition on the attribute name, as general_query.cpp (``N_col_meta_data_attr_name > 1``)."""
    keep, found = AvuFilter(), list(tests)
    for name_col, value_col, target in ((600, 601, keep.data), (610, 611, keep.coll)):
        names = [t for c, t in found if c == name_col]
        if len(names) <= 1:
            continue
        values = [t for c, t in found if c == value_col]
        found = [(c, t) for c, t in found if c not in (name_col, value_col)]
        found += [(name_col, names[0])] + ([(value_col, values[0])] if values else [])
        for k in range(1, max(len(names), len(values))):
            target.append(
                (names[k] if k < len(names) else None, values[k] if k < len(values) else None)
            )
    return found, keep


# ---- execution --------------------------------------------------------------------------------
def _base_rows(
    cat: Catalog,
    user: str,
    tables: set[str],
    conds: list[tuple[int, str]],
    persona: tuple[int, ...],
    tests: list[tuple[int, Callable[[str], bool]]] | None = None,
    avu_filter: AvuFilter | None = None,
    needed: frozenset[int] | None = None,
) -> Iterable[dict[int, str]]:
    admin = cat.is_admin(user)
    keep = avu_filter or AvuFilter()
    if tables & {"D", "DM", "DA"}:
        yield from _object_rows(cat, user, admin, tables, conds, persona, tests, keep, needed)
    elif tables & {"C", "CM", "CA"}:
        name = _equals(conds, 501)
        colls = [cat.colls[name]] if name is not None and name in cat.colls else []
        if name is None:
            colls = list(cat.colls.values())
        for coll in colls:
            if (admin or cat.level(user, coll) >= READ) and keep.coll_ok(coll):
                yield from _expand_coll(cat, coll, _coll_values(cat, coll), tables, persona)
    elif "U" in tables:
        for u in list(cat.users.values()):
            yield _user_values(cat, u)


def _object_rows(
    cat: Catalog,
    user: str,
    admin: bool,
    tables: set[str],
    conds: list[tuple[int, str]],
    persona: tuple[int, ...],
    tests: list[tuple[int, Callable[[str], bool]]] | None,
    keep: AvuFilter,
    needed: frozenset[int] | None = None,
) -> Iterable[dict[int, str]]:
    coll_name, data_name, coll_id = _equals(conds, 501), _equals(conds, 403), _equals(conds, 402)
    if coll_id is not None and coll_name is None:
        coll_name = next((c.path for c in cat.colls.values() if str(c.id) == coll_id), "\0")
    if coll_name is not None and data_name is not None:
        found = cat.objs.get(f"{coll_name.rstrip('/')}/{data_name}")
        objs = [found] if found else []
    elif coll_name is not None:
        objs = [o for p, o in cat.objs.items() if split(p)[0] == coll_name]
    else:
        objs = list(cat.objs.values())
    # Conditions on the data id and the collection name are checked before whole rows are
    # built (the same tests run again on the rows): a keyset-paged listing of a big catalog
    # (``D_DATA_ID > n`` and ``COLL_NAME like …``) then costs per page what remains, not all.
    early = [(c, t) for c, t in tests or () if c in (401, 501)]
    if early:
        objs = [
            o for o in objs if all(t(str(o.id) if c == 401 else split(o.path)[0]) for c, t in early)
        ]
    for obj in objs:
        if not admin and cat.level(user, obj) < READ:
            continue
        coll = cat.colls[split(obj.path)[0]]
        if not (keep.obj_ok(obj) and keep.coll_ok(coll)):
            continue
        for rep in list(obj.replicas):
            row = {**_data_values(cat, obj, rep), **_coll_values(cat, coll)}
            if needed is not None:
                # only the columns the query selects or tests: AVU and ACL rows copy it each
                row = {k: v for k, v in row.items() if k in needed}
            rows = [row]
            if "DM" in tables:
                rows = [{**r, **_avu_values(a, 600)} for r in rows for a in obj.avus]
            if "DA" in tables:
                rows = [
                    {**r, **_access_values(cat, who, lvl, obj.id, 700, persona)}
                    for r in rows
                    for who, lvl in obj.acl.items()
                ]
            for r in rows:
                yield from _expand_coll(cat, coll, r, tables, persona)


def _expand_coll(
    cat: Catalog, coll: Coll, row: dict[int, str], tables: set[str], persona: tuple[int, ...]
) -> Iterable[dict[int, str]]:
    rows = [row]
    if "CM" in tables:
        rows = [{**r, **_avu_values(a, 610)} for r in rows for a in coll.avus]
    if "CA" in tables:
        rows = [
            {**r, **_access_values(cat, who, lvl, coll.id, 710, persona)}
            for r in rows
            for who, lvl in coll.acl.items()
        ]
    return rows


def _join_users(
    cat: Catalog, rows: Iterable[dict[int, str]], tables: set[str]
) -> list[dict[int, str]]:
    by_id = {str(u.id): u for u in cat.users.values()}
    key = 703 if "DA" in tables else 713
    out = []
    for row in rows:
        u = by_id.get(row.get(key, ""))
        if u is not None:
            out.append({**row, **_user_values(cat, u)})
    return out


def execute(
    cat: Catalog,
    user: str,
    persona: tuple[int, ...],
    selects: list[tuple[int, int]],
    conds: list[tuple[int, str]],
    options: int,
) -> list[tuple[str, ...]]:
    """All result rows, projected on the selected columns, in the order a real server sends them."""
    if not selects:
        raise IrodsError(-806000, "GenQuery selects no column")
    cols = [c for c, _ in selects]
    tables = {table_of(c) for c in cols} | {table_of(c) for c, _ in conds}
    upper = bool(options & UPPER_CASE_WHERE)
    tests = [(c, compile_condition(c, cond, upper)) for c, cond in conds]
    with cat.lock:
        base_tables = tables - {"U"} if tables != {"U"} else tables
        if "U" in tables and base_tables & {"D", "DM"} and not base_tables & {"DA", "CA"}:
            # R_USER_MAIN joins R_DATA_MAIN through the data access table (irods/irods
            # general_query_setup.cpp: sFklink R_USER_MAIN ↔ r_data_access): a row per user
            # holding an ACL entry on the object.
            base_tables |= {"DA"}
        if "U" in tables and base_tables != tables and not base_tables & {"DA", "CA"}:
            raise IrodsError(-806000, "the sandbox joins users only through access columns")
        tests, avu_filter = _split_avu_aliases(tests)
        # UPPER_CASE_WHERE compares ``upper(column)`` (general_query.cpp, ``doUpperCase``), so
        # an exact name is no key into the catalog then: every entry is tested.
        shortcut_conds = [] if upper else conds
        needed = frozenset(cols) | {c for c, _ in conds} | {703, 713}
        rows = list(
            _base_rows(cat, user, base_tables, shortcut_conds, persona, tests, avu_filter, needed)
        )
        if "U" in tables and base_tables != tables:
            rows = _join_users(cat, rows, base_tables)
    rows = [r for r in rows if all(test(r.get(c, "")) for c, test in tests)]
    funcs = {c: flag & 0x0F for c, flag in selects if 2 <= (flag & 0x0F) <= 6}
    projected = [tuple(r.get(c, "") for c in cols) for r in rows]
    if funcs:
        projected = _aggregate(cols, funcs, projected)
    elif not options & NO_DISTINCT:
        projected = list(dict.fromkeys(projected))
    order = [(i, f) for i, (_, f) in enumerate(selects) if f & (ORDER_BY | ORDER_BY_DESC)]
    if not order:
        order = [(i, ORDER_BY) for i in range(len(cols)) if cols[i] not in funcs]
    for i, flag in reversed(order):
        col = cols[i]

        def sort_key(t: tuple[str, ...], i: int = i, col: int = col) -> Any:
            return _key(col, t[i])

        projected.sort(key=sort_key, reverse=bool(flag & ORDER_BY_DESC))
    return projected


def _aggregate(
    cols: list[int], funcs: dict[int, int], rows: list[tuple[str, ...]]
) -> list[tuple[str, ...]]:
    group_idx = [i for i, c in enumerate(cols) if c not in funcs]
    groups: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[i] for i in group_idx), []).append(r)
    if not groups and not group_idx:
        groups[()] = []
    out = []
    for members in groups.values():
        values = []
        for i, c in enumerate(cols):
            if c not in funcs:
                values.append(members[0][i])
                continue
            vals = [m[i] for m in members if m[i] != ""]
            values.append(_apply(funcs[c], c, vals))
        out.append(tuple(values))
    return out


def _apply(func: int, col: int, vals: list[str]) -> str:
    if func == 6:
        return str(len(vals))
    if not vals:
        return ""
    if func in (2, 3):
        pick = min if func == 2 else max
        return pick(vals, key=lambda v: _key(col, v))
    nums = [float(v) for v in vals]
    total = float(sum(nums))
    if func == 4:
        return str(int(total)) if total.is_integer() else str(total)
    return str(total / len(nums))
