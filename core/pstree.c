/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "log.h"
#include "pstree.h"

struct task *pstree_add(struct pstree *t, pid_t pid, struct task *parent)
{
	struct task **tasks, *task;

	tasks = realloc(t->tasks, (t->nr_tasks + 1) * sizeof(*tasks));
	if (!tasks)
		return NULL;
	t->tasks = tasks;
	task = calloc(1, sizeof(*task));
	if (!task)
		return NULL;
	task->pid = pid;
	task->parent = parent;
	t->tasks[t->nr_tasks++] = task;
	return task;
}

struct task *pstree_find(const struct pstree *t, pid_t pid)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		if (t->tasks[i]->pid == pid)
			return t->tasks[i];
	return NULL;
}

struct thread *task_find_thread(const struct task *task, pid_t tid)
{
	for (size_t i = 0; i < task->nr_threads; i++)
		if (task->threads[i].tid == tid)
			return &task->threads[i];
	return NULL;
}

int task_add_thread(struct task *task, pid_t tid)
{
	struct thread *th = realloc(task->threads, (task->nr_threads + 1) * sizeof(*th));

	if (!th)
		return -ENOMEM;
	task->threads = th;
	th[task->nr_threads] = (struct thread){.tid = tid, .ns_tid = tid};
	task->nr_threads++;
	return 0;
}

void task_drop_thread(struct task *task, size_t k)
{
	memmove(&task->threads[k], &task->threads[k + 1],
		(task->nr_threads - k - 1) * sizeof(task->threads[0]));
	task->nr_threads--;
}

int pstree_drop(struct pstree *t, struct task *task)
{
	size_t at = t->nr_tasks;

	for (size_t i = 0; i < t->nr_tasks; i++) {
		if (t->tasks[i]->parent == task)
			return -EBUSY;
		if (t->tasks[i] == task)
			at = i;
	}
	if (at == 0 || at == t->nr_tasks)
		return -EINVAL;
	memmove(&t->tasks[at], &t->tasks[at + 1], (t->nr_tasks - at - 1) * sizeof(t->tasks[0]));
	t->nr_tasks--;
	free(task->threads);
	free(task);
	return 0;
}

void pstree_free(struct pstree *t)
{
	for (size_t i = 0; i < t->nr_tasks; i++) {
		free(t->tasks[i]->threads);
		free(t->tasks[i]);
	}
	free(t->tasks);
	t->tasks = NULL;
	t->nr_tasks = 0;
}
