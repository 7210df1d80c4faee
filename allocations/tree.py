"""The budget tree: pots by their parent, parents before children. Plain Python, no Django.

Every reader of the tree (the engine's input, the admin, the officials' pages, the
dashboard, the documents, the exports) builds it here from the pots' `parent_id`, so the
order and depth of a pot are the same wherever it is shown: siblings by `position`, then id.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from operator import attrgetter
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Tree(Generic[T]):
    """Items that name their parent by key, in the order given (siblings keep it).

    By default an item is a pot: its key is `pk` and its parent's is `parent_id`. An item
    whose parent is not among the items is not in the tree.
    """

    def __init__(
        self,
        items: Iterable[T],
        key: Callable[[T], Hashable] = attrgetter("pk"),
        parent: Callable[[T], Hashable | None] = attrgetter("parent_id"),
    ):
        self.key = key
        self.items = list(items)
        self.by_key = {key(item): item for item in self.items}
        self._parent = {key(item): parent(item) for item in self.items}
        self._children: dict[Hashable | None, list[T]] = {}
        for item in self.items:
            self._children.setdefault(parent(item), []).append(item)

    @property
    def roots(self) -> list[T]:
        return self._children.get(None, [])

    def children(self, key: Hashable | None) -> list[T]:
        """The items right below `key` (None: the top level)."""
        return self._children.get(key, [])

    def has_children(self, key: Hashable) -> bool:
        return bool(self._children.get(key))

    @property
    def parents(self) -> set[Hashable]:
        """The keys of the items that have items below them."""
        return {k for k, kids in self._children.items() if k is not None and kids}

    def walk(self) -> Iterator[tuple[T, int]]:
        """Every item with its depth (0 at the top), parents before their children."""
        stack = [(item, 0) for item in reversed(self.roots)]
        while stack:
            item, depth = stack.pop()
            yield item, depth
            stack.extend((kid, depth + 1) for kid in reversed(self.children(self.key(item))))

    def depths(self) -> dict[Hashable, int]:
        return {self.key(item): depth for item, depth in self.walk()}

    def ancestors(self, key: Hashable) -> list[T]:
        """The items above `key`, nearest first."""
        out, parent = [], self._parent.get(key)
        while parent is not None and parent in self.by_key and len(out) < len(self.items):
            out.append(self.by_key[parent])
            parent = self._parent[parent]
        return out

    def below(self, key: Hashable | None) -> set[Hashable]:
        """The keys of every item below `key` (not `key` itself)."""
        found: set[Hashable] = set()
        todo = [self.key(kid) for kid in self.children(key)]
        while todo:
            current = todo.pop()
            if current not in found:
                found.add(current)
                todo.extend(self.key(kid) for kid in self.children(current))
        return found

    def fold(self, build: Callable[[T, list[R]], R]) -> list[R]:
        """The tree rebuilt bottom-up: `build(item, its children built)` for each top item."""

        def one(item: T) -> R:
            return build(item, [one(kid) for kid in self.children(self.key(item))])

        return [one(item) for item in self.roots]


def pot_tree(pots: Iterable[T]) -> Tree[T]:
    """The budget tree of a grant's pots: siblings by position, then id."""
    return Tree(sorted(pots, key=lambda pot: (pot.position, pot.pk)))
