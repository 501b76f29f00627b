from common.errors import ApplicationError, InvalidInput


class InsufficientStock(ApplicationError):
    """Raised once with every short line: [{"sku", "store", "requested", "available"}]."""

    code = "insufficient_stock"

    def __init__(self, short_lines: list[dict]) -> None:
        skus = ", ".join(
            f"{line['sku']} at {line['store']} ({line['available']} available)"
            for line in short_lines
        )
        super().__init__(f"Not enough stock: {skus}.", extra={"lines": short_lines})
        self.short_lines = short_lines


class StockConflict(ApplicationError):
    """A stock change that would break an invariant (e.g. counting below what is reserved)."""

    code = "stock_conflict"


class InvalidStockRequest(InvalidInput):
    pass
