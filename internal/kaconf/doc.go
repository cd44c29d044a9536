// Package kaconf reads keepalived.conf syntax into a tree of statements.
//
// The syntax is line oriented: each statement is a keyword followed by
// arguments up to the end of the line. A statement may open a block with
// '{' (on the same line or on the next one); the block ends at the matching
// '}'. Braces are tokens of their own wherever they appear, so
// "virtual_ipaddress { 10.0.0.1/24 }" is a block holding one statement.
// Comments start with '#' or '!' anywhere outside a quoted string.
// Double-quoted strings form one argument without their quotes.
//
// The package knows nothing about the meaning of keywords: vrrpd and lbd
// interpret the tree.
package kaconf
