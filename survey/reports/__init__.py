"""Reports for donors and national authorities, computed from the ledger's totals."""
