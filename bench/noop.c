/* The cheapest possible "real client": exits 0. */
int main(void) { return 0; }
