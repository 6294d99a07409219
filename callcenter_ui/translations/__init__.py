"""Flask-Babel catalogues of the console (sr_Cyrl is the source; sr_Latn and en are generated)."""
