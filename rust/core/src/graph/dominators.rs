//! Dominators of a rooted graph.
