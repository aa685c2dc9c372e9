#ifndef ALLOT_CMPI_SHIM_H
#define ALLOT_CMPI_SHIM_H
#include <mpi.h>

/* Open MPI's predefined handles are macros over addresses of global objects, which
   Swift cannot import: each is returned from a function here. */
static inline MPI_Comm allot_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype allot_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype allot_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype allot_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype allot_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op allot_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op allot_mpi_max(void) { return MPI_MAX; }
static inline MPI_Errhandler allot_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *allot_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *allot_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
#endif
