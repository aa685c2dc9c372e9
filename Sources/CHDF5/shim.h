#ifndef ALLOT_HDF5_SHIM_H
#define ALLOT_HDF5_SHIM_H
#include <hdf5.h>
#include <fcntl.h>
#include <stdio.h>
#include <malloc.h>

/* HDF5's type and property macros expand to globals that Swift cannot import (and that
   are -1 until H5open() has run); these wrappers return them as plain values. */
static inline hid_t allot_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t allot_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t allot_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t allot_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t allot_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t allot_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t allot_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t allot_h5s_all(void) { return H5S_ALL; }
static inline unsigned allot_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned allot_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned allot_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline size_t allot_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t allot_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t allot_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t allot_h5p_file_create(void) { return H5P_FILE_CREATE; }

/* Gives the heap's free pages back to the system (glibc's malloc_trim) before a checkpoint's
   in-memory image is built. */
static inline void allot_release_free_heap_pages(void) { malloc_trim(0); }

/* Marks an open file's descriptor close-on-exec, so that child processes started while it
   is open do not inherit it (HDF5 opens files without O_CLOEXEC). Best effort. */
static inline void allot_h5_set_cloexec(hid_t file) {
  void *handle = NULL;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) >= 0 && handle != NULL) {
    int fd = *(int *)handle;
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

/* Silences HDF5's automatic error printing: failures become Swift errors instead. The
   thread-safe build keeps one error stack per thread, so this acts on the calling thread
   only and is called before each use of the library. */
static inline void allot_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Whether automatic error printing is on for the calling thread (for tests). */
static inline int allot_h5_errors_print(void) {
  H5E_auto2_t function = NULL;
  void *data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &function, &data);
  return function != NULL;
}

/* The innermost message of the calling thread's HDF5 error stack (the cause of the last
   failure, such as "truncated file: eof = 14800, ..."), copied into `buffer`; empty if none. */
static inline herr_t allot_h5_error_walker(unsigned n, const H5E_error2_t *error, void *data) {
  (void)n;
  char **buffer = (char **)data;
  if (error->desc != NULL && error->desc[0] != 0) {
    snprintf(buffer[0], (size_t)(buffer[1] - buffer[0]), "%s", error->desc);
  }
  return 0;
}
static inline void allot_h5_last_error(char *buffer, size_t size) {
  if (size == 0) return;
  buffer[0] = 0;
  char *bounds[2] = {buffer, buffer + size};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, allot_h5_error_walker, bounds);
}

/* The number of open HDF5 objects of every kind, for leak checks. */
static inline ssize_t allot_h5_open_objects(void) {
  return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}
#endif
