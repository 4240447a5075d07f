"""The file name suffixes that the table adapter reads, apart from its readers.

The OneRoster adapter names them to tell a list given to the wrong adapter, and importing
them from here does not load the spreadsheet readers (openpyxl, xlrd, lxml).
"""

SUPPORTED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".htm", ".html")
# Text files that are lists only when a header is found, as in Excel's "Unicode Text" export.
# In a folder, one without a header is a note, so it is skipped with a warning.
NOTE_SUFFIXES = (".txt",)
