"""The generic table adapter: CSV files, XLSX workbooks and HTML tables saved as ``.xls``.

It has no product-specific code. The mappings of each product key that uses it name the
columns to read, and their column names (``ReadHints``) find the header under
titles and class labels. See ``docs/table-adapter.md``.
"""
