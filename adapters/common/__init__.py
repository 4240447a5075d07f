"""Building blocks that more than one adapter uses: streaming CSV reading and archive access."""
