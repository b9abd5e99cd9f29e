/*
 * A tiny unit-test harness (libuv's task.h idea): TEST(name) defines a case,
 * TEST_MAIN lists them; `binary NAME` runs one case (what ctest does),
 * `binary` runs all.  Assertions print both operands and abort the case.
 */
#ifndef TP_TEST_H
#define TP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST(name) static void test_##name(void)

#define FAILF(...)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(x)                                                                                  \
    do {                                                                                           \
        if (!(x))                                                                                  \
            FAILF("assertion failed: %s", #x);                                                     \
    } while (0)
#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            FAILF("%s == %s: %lld != %lld", #a, #b, a_, b_);                                       \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");   \
    } while (0)
#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
            FAILF("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_);                       \
    } while (0)

struct test_case {
    const char *name;
    void (*fn)(void);
};

#define TEST_ENTRY(name) {#name, test_##name},

static inline int
test_main(const struct test_case *cases, int argc, char **argv)
{
    int ran = 0;

    for (const struct test_case *t = cases; t->name != NULL; t++) {
        if (argc > 1 && strcmp(argv[1], t->name) != 0)
            continue;
        t->fn();
        printf("ok %s\n", t->name);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no such test: %s\n", argc > 1 ? argv[1] : "");
        return (1);
    }
    return (0);
}

#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct test_case cases[] = {__VA_ARGS__{NULL, NULL}};                         \
        return (test_main(cases, argc, argv));                                                     \
    }

#endif
