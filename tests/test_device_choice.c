/*
 * Which backend and device a config gets: CLMLP_DEVICE, explicit indices, AUTO's
 * fallback to the host path (only for a fully open device choice: a device asked for by
 * the config or CLMLP_DEVICE is met or refused, also under AUTO) and its reason,
 * CLMLP_GEMM. Run with the argument --no-platform (and OCL_ICD_VENDORS pointing at an
 * empty folder) it checks a machine without any OpenCL platform: AUTO still works, on
 * the host path, and says why.
 */
#define CL_TARGET_OPENCL_VERSION 120
#include "support.h"

#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clmlp_status try_create(clmlp_backend backend, int platform, int device, clmlp_net **out)
{
    const size_t sizes[] = {2, 2};
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    cfg.platform = platform;
    cfg.device = device;
    *out = NULL;
    return clmlp_create(sizes, 2, &cfg, out);
}

static clmlp_status try_create_spec(clmlp_backend backend, const char *spec, clmlp_net **out)
{
    const size_t sizes[] = {2, 2};
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    snprintf(cfg.device_spec, sizeof cfg.device_spec, "%s", spec);
    *out = NULL;
    return clmlp_create(sizes, 2, &cfg, out);
}

static int machine_has(cl_device_type type)
{
    cl_platform_id platforms[16];
    cl_uint n = 0;
    if (clGetPlatformIDs(16, platforms, &n) != CL_SUCCESS)
        return 0;
    for (cl_uint p = 0; p < n && p < 16; p++) {
        cl_uint count = 0;
        if (clGetDeviceIDs(platforms[p], type, 0, NULL, &count) == CL_SUCCESS && count > 0)
            return 1;
    }
    return 0;
}

static void env_device_spec(void **state)
{
    (void)state;
    clmlp_net *net;
    setenv("CLMLP_DEVICE", "cpu", 1);
    if (machine_has(CL_DEVICE_TYPE_CPU)) {
        TEST_OK(try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
        assert_true(strncmp(clmlp_backend_name(net), "opencl: ", 8) == 0);
        clmlp_destroy(net);
    }
    setenv("CLMLP_DEVICE", "gpu", 1);
    if (!machine_has(CL_DEVICE_TYPE_GPU)) {
        TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
        assert_non_null(strstr(clmlp_last_error(), "GPU"));
        /* CLMLP_DEVICE is the user's request too: AUTO does not fall back from it */
        TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_AUTO, -1, -1, &net));
        assert_non_null(strstr(clmlp_last_error(), "device gpu: no OpenCL GPU device found (platforms: "));
        assert_null(net);
    }
    setenv("CLMLP_DEVICE", "0:0", 1);
    TEST_OK(try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
    clmlp_destroy(net);
    setenv("CLMLP_DEVICE", "7:0", 1);
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
    assert_non_null(strstr(clmlp_last_error(), "platform 7"));
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_AUTO, -1, -1, &net));
    assert_non_null(strstr(clmlp_last_error(), "platform 7"));
    setenv("CLMLP_DEVICE", "banana", 1);
    TEST_FAILS(CLMLP_EINVAL, try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
    TEST_FAILS(CLMLP_EINVAL, try_create(CLMLP_BACKEND_AUTO, -1, -1, &net)); /* a typo is not "no device" */
    assert_non_null(strstr(clmlp_last_error(), "banana"));
    setenv("CLMLP_DEVICE", "0:0", 1);
    TEST_OK(try_create(CLMLP_BACKEND_HOST, -1, -1, &net)); /* the host path ignores it */
    assert_string_equal(clmlp_backend_name(net), "host");
    clmlp_destroy(net);
    unsetenv("CLMLP_DEVICE");
}

static void config_indices(void **state)
{
    (void)state;
    clmlp_net *net;
    setenv("CLMLP_DEVICE", "banana", 1); /* explicit indices take precedence */
    TEST_OK(try_create(CLMLP_BACKEND_OPENCL, 0, 0, &net));
    clmlp_destroy(net);
    TEST_OK(try_create(CLMLP_BACKEND_OPENCL, 0, -1, &net));
    clmlp_destroy(net);
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_OPENCL, 0, 99, &net));
    assert_non_null(strstr(clmlp_last_error(), "0:99"));
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_OPENCL, 5, 0, &net));
    unsetenv("CLMLP_DEVICE");
    TEST_OK(try_create(CLMLP_BACKEND_AUTO, -1, -1, &net));
    assert_true(strncmp(clmlp_backend_name(net), "opencl: ", 8) == 0);
    clmlp_destroy(net);
}

/* Under AUTO a device the config names is met or refused; only an open choice may end
 * on the host path, and then clmlp_fallback_reason says why. */
static void auto_with_a_device_asked_for(void **state)
{
    (void)state;
    clmlp_net *net;
    unsetenv("CLMLP_DEVICE");
    assert_string_equal(clmlp_fallback_reason(NULL), "");
    if (!machine_has(CL_DEVICE_TYPE_GPU)) { /* POCL: CPU devices only */
        TEST_FAILS(CLMLP_ENODEVICE, try_create_spec(CLMLP_BACKEND_AUTO, "gpu", &net));
        assert_null(net);
        const char *why = clmlp_last_error();
        assert_non_null(strstr(why, "device gpu: no OpenCL GPU device found (platforms: "));
        assert_non_null(strstr(why, "CPU")); /* the platforms' devices are listed */
    }
    if (machine_has(CL_DEVICE_TYPE_CPU)) {
        TEST_OK(try_create_spec(CLMLP_BACKEND_AUTO, "cpu", &net));
        assert_true(strncmp(clmlp_backend_name(net), "opencl: ", 8) == 0);
        assert_string_equal(clmlp_fallback_reason(net), "");
        clmlp_destroy(net);
    }
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_AUTO, 0, 99, &net)); /* indices */
    assert_non_null(strstr(clmlp_last_error(), "0:99"));
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_AUTO, 9, -1, &net));
    assert_non_null(strstr(clmlp_last_error(), "platform 9"));
    TEST_FAILS(CLMLP_ENODEVICE, try_create_spec(CLMLP_BACKEND_AUTO, "9:0", &net)); /* "P:D" spec */
    assert_non_null(strstr(clmlp_last_error(), "platform 9"));
    TEST_FAILS(CLMLP_EINVAL, try_create_spec(CLMLP_BACKEND_AUTO, "banana", &net));

    TEST_OK(try_create(CLMLP_BACKEND_AUTO, -1, -1, &net)); /* the open choice: the device */
    assert_true(strncmp(clmlp_backend_name(net), "opencl: ", 8) == 0);
    assert_string_equal(clmlp_fallback_reason(net), "");
    clmlp_destroy(net);
    TEST_OK(try_create(CLMLP_BACKEND_HOST, -1, -1, &net)); /* the host path asked for: no fallback */
    assert_string_equal(clmlp_fallback_reason(net), "");
    clmlp_destroy(net);
}

static void gemm_choice(void **state)
{
    (void)state;
    clmlp_net *net;
    setenv("CLMLP_GEMM", "fastest", 1);
    TEST_FAILS(CLMLP_EINVAL, try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
    assert_non_null(strstr(clmlp_last_error(), "CLMLP_GEMM"));
    setenv("CLMLP_GEMM", "own", 1);
    TEST_OK(try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
    clmlp_destroy(net);
    unsetenv("CLMLP_GEMM");
}

/* Run in a process whose ICD loader sees no platform. */
static void no_platform(void **state)
{
    (void)state;
    clmlp_net *net;
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_OPENCL, -1, -1, &net));
    assert_non_null(strstr(clmlp_last_error(), "platform"));
    TEST_OK(try_create(CLMLP_BACKEND_AUTO, -1, -1, &net));
    assert_string_equal(clmlp_backend_name(net), "host");
    const char *why = clmlp_fallback_reason(net);
    assert_true(why[0] != '\0');
    assert_non_null(strstr(why, "no OpenCL platform"));
    double x[2] = {0.5, -0.5}, y[2];
    TEST_OK(clmlp_forward(net, x, 1, y));
    assert_string_equal(clmlp_fallback_reason(net), why); /* it stays with the net */
    clmlp_destroy(net);
    /* a device asked for cannot be met without a platform, also under AUTO */
    TEST_FAILS(CLMLP_ENODEVICE, try_create_spec(CLMLP_BACKEND_AUTO, "gpu", &net));
    assert_null(net);
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_AUTO, 0, 0, &net));
    setenv("CLMLP_DEVICE", "cpu", 1);
    TEST_FAILS(CLMLP_ENODEVICE, try_create(CLMLP_BACKEND_AUTO, -1, -1, &net));
    assert_non_null(strstr(clmlp_last_error(), "platform"));
    unsetenv("CLMLP_DEVICE");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--no-platform") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(no_platform)};
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_device_spec),
        cmocka_unit_test(config_indices),
        cmocka_unit_test(auto_with_a_device_asked_for),
        cmocka_unit_test(gemm_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
