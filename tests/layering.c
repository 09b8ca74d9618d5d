// SPDX-License-Identifier: MIT
/*
 * The layering check: built once per library, linking the WHOLE library
 * (every object, used or not) with only the libraries below it. A call from
 * a lower layer into a higher one is an undefined reference, and the build
 * fails. Running it checks nothing more.
 */
int main(void)
{
	return 0;
}
