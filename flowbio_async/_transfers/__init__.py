"""Transfer engines (uploads, downloads, bulk jobs, many-file runs); they know no URL paths."""
