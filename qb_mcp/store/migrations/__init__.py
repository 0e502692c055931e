"""Schema migrations, applied in order: `NNNN_name.sql`. Never edit one that has shipped."""
