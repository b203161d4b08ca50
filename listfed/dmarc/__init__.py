"""DMARC: which From domains publish a policy that makes a list rewrite their posts."""
