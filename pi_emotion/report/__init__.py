"""pi-emotion report: events files in, one self-contained HTML page (or one PNG) of plots out."""
