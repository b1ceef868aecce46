"""Figures kept up to date as labels are saved (below review and media, which save them)."""
