namespace CremaD.Pipeline;
