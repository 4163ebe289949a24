"""The `report` stage: one static page (reports/index.html) that plays every sample beside its
input and shows every metric and figure. `inputs` finds and checks what the page shows, `assets`
copies it into the report folder, `curves` draws the training and trade-off curves, `tables`
turns metrics into HTML tables, `page` writes the HTML, `build` runs them in order."""
