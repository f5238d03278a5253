"""Work that runs beside the requests: the job runner and the console's event uploads."""
