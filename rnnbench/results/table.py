"""Plain-text tables for the terminal, and GitHub-flavoured Markdown ones for a pull request's summary (reports use
pandas; the core does not need it)."""

from __future__ import annotations


def format_table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """Columns padded to their widest cell; ``align`` has one 'l' or 'r' per column (default: all 'l')."""
    align = align or "l" * len(headers)
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells) -> str:
        return "  ".join(
            str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(cells, widths, align)
        ).rstrip()

    return "\n".join([line(headers), line("-" * w for w in widths), *(line(r) for r in rows)])


def markdown_table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table; ``align`` as ``format_table``'s. A ``|`` in a cell is escaped."""
    align = align or "l" * len(headers)

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |",
                      *(line(r) for r in rows)])
