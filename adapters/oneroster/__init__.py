"""OneRoster CSV packages (1EdTech OneRoster 1.1 and 1.2, CSV binding)."""
