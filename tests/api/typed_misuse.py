"""Mistakes `mypy --strict` must catch in code using the API (test_typing.py); the comments
name the error each line must get."""

from __future__ import annotations

from qb_mcp import SyncBooks, open_books_sync


def mistakes(books: SyncBooks) -> None:
    books.find_customer(nam="Ada")  # call-overload
    books.record_payment(amount=12.5)  # call-overload
    result = books.find_customer(name="Ada")
    print(result.customers)  # attr-defined
    books.no_such_tool()  # attr-defined


def misopened() -> None:
    open_books_sync(compnay="123")  # call-arg
