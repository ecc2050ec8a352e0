//! The Docker backend (bollard): one container per agent, a named volume per agent for its
//! workspace, everything labelled with the fleet so nothing else is ever touched.
