#ifdef CLMLP_GPU /* the GPU family's (the CPU family's: per_sample.cl) */
#endif
