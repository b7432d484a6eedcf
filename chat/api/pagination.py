"""Cursor pagination as the hosted API did it: limit (1–100, default 20), order (default
desc), after / before an object id; the page says first_id, last_id and has_more."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from chat.api.errors import invalid, out_of_range


def page(request: HttpRequest, queryset: QuerySet, serialize: Callable[[object], dict], *, key: str = "created_at", cursor: str = "pk") -> dict:
    """One page of ``queryset``; ``cursor`` is the field holding the ids clients page by."""
    params = request.GET
    try:
        limit = int(params.get("limit", 20))
    except ValueError:
        raise invalid("Invalid 'limit': expected an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise out_of_range("limit", limit, 100 if limit > 100 else 1, above=limit > 100, decimal=False)
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value for 'order': expected 'asc' or 'desc', got {order!r}.", param="order")
    descending = order == "desc"
    ordering = [f"-{key}", "-pk"] if descending else [key, "pk"]
    after, before = params.get("after"), params.get("before")
    if after:
        queryset = queryset.filter(_beyond(queryset, after, "after", key, cursor, forward=not descending))
    if before:
        queryset = queryset.filter(_beyond(queryset, before, "before", key, cursor, forward=descending))
    if before and not after:
        # The page just before the cursor: walk backwards, then restore the order.
        reverse = [f"-{key}", "-pk"] if not descending else [key, "pk"]
        rows = list(queryset.order_by(*reverse)[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
    else:
        rows = list(queryset.order_by(*ordering)[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    data = [serialize(row) for row in rows]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def _beyond(queryset: QuerySet, value: str, param: str, key: str, cursor: str, *, forward: bool) -> Q:
    """Rows strictly after (forward) or before the cursor object, in (key, pk) order."""
    anchor = queryset.filter(**{cursor: value}).values(key, "pk").first()
    if anchor is None:
        raise invalid(f"Invalid '{param}': no such object {value!r} in this list.", param=param)
    if forward:
        return Q(**{f"{key}__gt": anchor[key]}) | Q(**{key: anchor[key], "pk__gt": anchor["pk"]})
    return Q(**{f"{key}__lt": anchor[key]}) | Q(**{key: anchor[key], "pk__lt": anchor["pk"]})
