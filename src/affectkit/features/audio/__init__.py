"""Audio extractors: spectral, prosodic and (optional) openSMILE functionals."""
