/* Matrix products through CLBlast (row-major, alpha 1, beta 0). */
#include "cl_common.h"

#include <clblast_c.h>

#include "../error.h"
#include "../fault.h"

clmlp_status clmlp_cl_gemm(clmlp_cl_be *be, int trans_a, int trans_b, size_t m, size_t n, size_t k, const clmlp_buf *A,
                           size_t lda, const clmlp_buf *B, size_t ldb, clmlp_buf *C, size_t ldc)
{
    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode code;
    cl_event event = NULL, *profiled = clmlp_cl_profile_event(be, &event);
    pthread_mutex_lock(&be->lock); /* one CLBlast call and its profile record at a time on a backend */
    if (clmlp_fault_hit(CLMLP_FAULT_ENQUEUE))
        code = CLBlastOpenCLOutOfResources;
    else if (be->base.dtype == CLMLP_F32)
        code = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, 1.0f, CL_MEM(A), 0, lda, CL_MEM(B), 0, ldb, 0.0f,
                            CL_MEM(C), 0, ldc, &be->queue, profiled);
    else
        code = CLBlastDgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, 1.0, CL_MEM(A), 0, lda, CL_MEM(B), 0, ldb, 0.0,
                            CL_MEM(C), 0, ldc, &be->queue, profiled);
    clmlp_status s = code == CLBlastSuccess
                         ? clmlp_cl_profile_record(be, "clblast_gemm", event)
                         : clmlp_fail(CLMLP_EOPENCL, "CLBlast %cgemm (%c%c, m %zu n %zu k %zu) failed: status %d",
                                      be->base.dtype == CLMLP_F32 ? 'S' : 'D', trans_a ? 'T' : 'N', trans_b ? 'T' : 'N',
                                      m, n, k, (int)code);
    pthread_mutex_unlock(&be->lock);
    return s;
}
